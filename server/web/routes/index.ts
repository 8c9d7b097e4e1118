import type { RouteDef } from '../route.js';
import { authRoutes } from './auth.js';
import { consoleRoutes } from './console.js';
import { csvRoutes } from './csv.js';
import { rejectsRoutes } from '../../import/rejects_route.js';
import { gridRoutes } from './grid_page.js';
import { gridCellRoutes } from './grid_cell_edit.js';
import { eventRoutes } from './events.js';
import { healthRoutes } from './health.js';
import { jobRoutes } from './jobs.js';
import { historyRoutes } from './history.js';
import { rowRoutes } from './rows.js';
import { rowHistoryRoutes } from './row_history.js';
import { tableRoutes } from './tables.js';
import { importTableRoutes } from './import_table.js';
import { tableIndexRoutes } from './table_indexes.js';
import { reconcileRoutes } from './reconcile.js';
import { tokenRoutes } from './tokens.js';
import { trashRoutes } from './trash.js';
import { userRoutes } from './users.js';
import { viewRoutes } from './views.js';
import { rowFormRoutes } from './row_form.js';
import { gridBulkRoutes } from './grid_bulk.js';

/** The route table: everything the HTTP server answers, in one list. */
export const allRoutes: RouteDef[] = [...healthRoutes, ...importTableRoutes, ...tableRoutes, ...tableIndexRoutes, ...rowHistoryRoutes, ...rowFormRoutes, ...rowRoutes, ...viewRoutes, ...eventRoutes, ...jobRoutes, ...gridRoutes, ...gridCellRoutes, ...gridBulkRoutes, ...csvRoutes, ...rejectsRoutes, ...authRoutes, ...userRoutes, ...tokenRoutes, ...reconcileRoutes, ...trashRoutes, ...consoleRoutes, ...historyRoutes];
