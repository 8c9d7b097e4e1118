// single_select: the column stores the option's id (integer), so renaming an option or
// changing its colour rewrites no rows. Labels live in the field's options.
import { z } from 'zod';
import { asText, caseMap, isEmpty, lit, wholeNumberInput } from './common.js';
import { FieldValueError, type FieldTypeDef } from './types.js';

export const COLORS = ['gray', 'blue', 'green', 'yellow', 'orange', 'red', 'purple', 'pink'] as const;

/** The options of a select field: at most 500, labels unique (ignoring case), ids unique. `label` may refine labels further. */
export function choicesSchema(label: (s: z.ZodString) => z.ZodType<string> = (s) => s) {
  const choice = z
    .object({
      id: z.number().int().min(1).max(2_000_000_000).optional(),
      label: label(z.string().trim().min(1, 'an option needs a label').max(100, 'an option label is at most 100 characters')).refine(
        (s) => !s.includes('\0'),
        'may not contain NUL bytes',
      ),
      color: z.enum(COLORS).default('gray'),
    })
    .strict();
  return z
    .object({ choices: z.array(choice).max(500, 'at most 500 options').default([]) })
    .strict()
    .superRefine((o, ctx) => {
      const labels = new Set<string>();
      const ids = new Set<number>();
      for (const c of o.choices) {
        const key = c.label.toLowerCase();
        if (labels.has(key)) ctx.addIssue({ code: 'custom', message: `two options are labelled "${c.label}"` });
        labels.add(key);
        if (c.id !== undefined) {
          if (ids.has(c.id)) ctx.addIssue({ code: 'custom', message: `two options have the id ${c.id}` });
          ids.add(c.id);
        }
      }
    });
}

const options = choicesSchema();

export type Choice = { id: number; label: string; color: (typeof COLORS)[number] };
export type SelectOpts = { choices: Choice[] };

/** Gives new options (no id yet) ids after the highest one in use, old or new. */
export function assignChoiceIds(choices: Array<Omit<Choice, 'id'> & { id?: number }>, previous: Choice[] = []): Choice[] {
  let next = Math.max(0, ...previous.map((c) => c.id), ...choices.map((c) => c.id ?? 0)) + 1;
  return choices.map((c) => ({ ...c, id: c.id ?? next++ }));
}

function findChoice(input: unknown, opts: SelectOpts): Choice | undefined {
  if (typeof input === 'number') return opts.choices.find((c) => c.id === input);
  const text = asText(input).trim();
  const byLabel = opts.choices.find((c) => c.label.toLowerCase() === text.toLowerCase());
  if (byLabel) return byLabel;
  if (/^\d+$/.test(text)) return opts.choices.find((c) => c.id === Number(text));
  return undefined;
}

export const singleSelectType: FieldTypeDef<SelectOpts> = {
  name: 'single_select',
  label: 'Single select',
  options: options as unknown as z.ZodType<SelectOpts>,
  sqlType: () => 'integer',
  parse(input, opts) {
    if (isEmpty(input)) return null;
    const value = wholeNumberInput(typeof input === 'object' && input !== null && 'id' in input ? (input as { id: unknown }).id : input);
    const found = findChoice(value, opts);
    if (!found) {
      const known = opts.choices.map((c) => c.label).slice(0, 10).join(', ');
      throw new FieldValueError(`"${String(value).slice(0, 40)}" is not one of the options${known ? ` (${known})` : ''}`);
    }
    return found.id;
  },
  toJson: (v, opts) => {
    if (v == null) return null;
    const c = opts.choices.find((x) => x.id === Number(v));
    return c ? { id: c.id, label: c.label, color: c.color } : { id: Number(v), label: null, color: null };
  },
  display: (v, opts) => (v == null ? '' : opts.choices.find((c) => c.id === Number(v))?.label ?? `#${v}`),
  filterOps: ['eq', 'neq', 'in', 'empty', 'not_empty'],
  searchable: false,
  toText: (e, opts) => caseMap(e, opts.choices.map((c) => [String(c.id), lit(c.label)])),
  fromText: (t, opts) => caseMap(`lower(btrim(${t}))`, opts.choices.map((c) => [lit(c.label.toLowerCase()), String(c.id)])),
};
