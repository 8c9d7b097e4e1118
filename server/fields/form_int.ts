// Whole-number options as a console form sends them ('5'), or as JSON does (5).
import { z } from 'zod';

export const formInt = (schema: z.ZodNumber) =>
  z.preprocess((v) => (typeof v === 'string' ? (v.trim() === '' ? undefined : /^-?\d{1,9}$/.test(v.trim()) ? Number(v) : v) : v), schema.optional());
