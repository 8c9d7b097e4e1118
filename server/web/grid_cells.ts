// The grid's cells as HTML (views/partials/grid.ejs places a row's cells with one call;
// GET ./cells/:column answers one through views/partials/grid_cell.ejs). Built with the
// escaping `html` tag rather than one template include per cell: a page of 100 rows and
// 50 fields is 5,000 cells, and an include per cell was most of the page's time.
import type { CellView } from './grid_view.js';
import { html, type Html } from './html.js';

export interface CellField {
  column: string;
  name: string;
}

export interface CellArgs {
  tableId: number;
  /** the row's DOM key: its id, or its place on the page (p1, p2, ...) */
  rowId: string | number;
  field: CellField;
  view: CellView;
  editable: boolean;
}

function content(view: CellView): Html | string {
  switch (view.kind) {
    case 'bool':
      return html`<input type="checkbox" disabled tabindex="-1" aria-label="${view.text}"${view.checked ? html` checked` : ''}>`;
    case 'url':
      return html`<a href="${view.href}" rel="noopener nofollow" target="_blank">${view.text}</a>`;
    case 'email':
      return html`<a href="${view.href}">${view.text}</a>`;
    case 'tag':
      return html`<span class="tag tag-${view.color}">${view.text}</span>`;
    case 'tags':
      return html`${(view.tags ?? []).map((t) => html`<span class="tag tag-${t.color}">${t.text}</span> `)}`;
    case 'link':
      return html`<span class="linked" title="${view.title}">${view.text}</span>`;
    case 'long':
    case 'json':
      return html`<span class="${view.kind}"${view.title ? html` title="${view.title}"` : ''}>${view.text}</span>`;
    default:
      return view.title ? html`<span title="${view.title}">${view.text}</span>` : view.text;
  }
}

/**
 * One display cell. data-v is the value as the cell's editor and the paste parser read
 * it, where that differs from the text shown (a link's id, a datetime's every digit, the
 * whole of a clipped long text): Ctrl+C copies it (public/js/sheet.js).
 */
export function cellHtml(a: CellArgs): Html {
  const { view, field } = a;
  // No hx-* attributes per cell: public/js/grid.js asks for the editor with one delegated
  // listener, from the row's key (its tr id) and data-column. 5,000 cells each carrying
  // their own request were half of a page's bytes and a good part of its server time.
  const edit = a.editable ? html` data-editable="1"` : '';
  const copy = view.copy !== undefined ? html` data-v="${view.copy}"` : '';
  return html`<td id="cell-${a.rowId}-${field.column}" class="cell${view.kind === 'number' ? ' num' : ''}" tabindex="-1" data-column="${field.column}" aria-label="${field.name}: ${view.kind === 'empty' ? 'empty' : view.text}"${copy}${edit}>${content(view)}</td>`;
}

/** A row's cells, in the order of `fields`. */
export function rowCellsHtml(tableId: number, rowId: string | number, fields: CellField[], cells: Array<{ view: CellView; editable: boolean }>): Html {
  return html`${cells.map((c, i) => cellHtml({ tableId, rowId, field: fields[i]!, view: c.view, editable: c.editable }))}`;
}
