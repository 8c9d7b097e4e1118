import type { RouteDef } from '../route.js';
import { healthRoutes } from './health.js';
import { homeRoutes } from './home.js';

/** The route table: everything the HTTP server answers, in one list. */
export const allRoutes: RouteDef[] = [...healthRoutes, ...homeRoutes];
