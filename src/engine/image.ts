import sharp from 'sharp';
export async function makePreview(input: string, maxSide: number) {
  const meta = await sharp(input).metadata();
  const jpeg = await sharp(input).rotate().resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true }).jpeg().toBuffer();
  return { jpeg, width: 0, height: 0, fullWidth: meta.width!, fullHeight: meta.height!, format: meta.format };
}
