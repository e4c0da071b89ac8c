import type * as SheetJs from '@e965/xlsx';

export type { SheetJs };

let loading: Promise<typeof SheetJs> | null = null;

/**
 * SheetJS (a megabyte of code, some 12 MB of memory), loaded with the first workbook read or written rather than at
 * the server's start: only the import and the exports use it.
 */
export function loadSheetJs(): Promise<typeof SheetJs> {
  loading ??= import('@e965/xlsx');
  return loading;
}
