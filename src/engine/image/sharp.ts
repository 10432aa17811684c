import { availableParallelism } from 'node:os';
import sharp from 'sharp';

// sharp defaults to one libvips thread on glibc.
sharp.concurrency(availableParallelism());

export { sharp };
