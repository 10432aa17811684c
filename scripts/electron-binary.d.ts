export const ELECTRON_PACKAGE: string;
export function findElectronBinary(): string | null;
