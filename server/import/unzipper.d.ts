// unzipper (the zip reader exceljs uses) has no types of its own: the part we use.
declare module 'unzipper' {
  import type { Duplex } from 'node:stream';
  const unzipper: { Parse(opts?: { forceStream?: boolean }): Duplex };
  export default unzipper;
}
