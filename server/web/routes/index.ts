import type { RouteDef } from '../route.js';
import { authRoutes } from './auth.js';
import { healthRoutes } from './health.js';
import { tableRoutes } from './tables.js';
import { tokenRoutes } from './tokens.js';
import { userRoutes } from './users.js';

/** The route table: everything the HTTP server answers, in one list. */
export const allRoutes: RouteDef[] = [...healthRoutes, ...tableRoutes, ...authRoutes, ...userRoutes, ...tokenRoutes];
