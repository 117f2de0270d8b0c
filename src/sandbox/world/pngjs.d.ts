/** The part of pngjs (which ships no types) the sandbox uses to decode PNG photos. */
declare module 'pngjs' {
  export const PNG: {
    sync: {
      read(buffer: Buffer): { width: number; height: number; data: Buffer };
      write(png: { width: number; height: number; data: Buffer }): Buffer;
    };
    new (options: { width: number; height: number }): { width: number; height: number; data: Buffer };
  };
}
