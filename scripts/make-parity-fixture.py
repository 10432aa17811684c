#!/usr/bin/python3.11
"""Writes test/fixtures/parity/: a tiny KernelWizard in PyTorch (written for this project) with the authors'
state_dict names, its weights as a torch .pth, and the same weights plus reference inputs/outputs as raw
little-endian data with a JSON index, for the TypeScript parity test.

Run from the repository root: /usr/bin/python3.11 scripts/make-parity-fixture.py
"""
import json
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OUT_DIR = os.path.join('test', 'fixtures', 'parity')
NAME = 'kernel-wizard-tiny'

# Mirrors KernelWizardConfig in src/engine/model/kernel-wizard.ts.
CONFIG = {
    'inputNc': 3,
    'nf': 4,
    'frontRBs': 1,
    'backRBs': 2,
    'kernelDim': 16,
    'useVAE': False,
    'extractorBlocks': 2,
    'extractorNorm': 'none',
    'extractorPadding': 'reflect',
    'adapterNorm': 'none',
    'reconNf': 8,
}
# G's reflect-padded ResNet blocks need a code grid of at least 2 x 2 (images of 256 x 256 and up); F is
# checked on a 1 x 2 grid to keep the stored output small.
G_SIZE = (256, 256)
F_SIZE = (128, 256)


class ResidualNoBN(nn.Module):
    def __init__(self, nf):
        super().__init__()
        self.conv1 = nn.Conv2d(nf, nf, 3, 1, 1)
        self.conv2 = nn.Conv2d(nf, nf, 3, 1, 1)

    def forward(self, x):
        return x + self.conv2(F.relu(self.conv1(x)))


class ReflectResBlock(nn.Module):
    """Kernel-extractor block; Identity modules stand where the (disabled) norm layers sit."""

    def __init__(self, dim):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=False), nn.Identity(), nn.ReLU(),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=False), nn.Identity(),
        )

    def forward(self, x):
        return x + self.conv_block(x)


class KernelExtractor(nn.Module):
    def __init__(self, nf, out_nc, n_blocks):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(2 * nf, nf, 7, bias=False), nn.Identity(), nn.ReLU()]
        for i in range(5):
            cin, cout = min(nf * 2**i, out_nc), min(nf * 2 ** (i + 1), out_nc)
            layers += [nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.Identity(), nn.ReLU()]
        layers += [ReflectResBlock(out_nc) for _ in range(n_blocks)]
        self.model = nn.Sequential(*layers)

    def forward(self, sharp, blurry):
        return self.model(torch.cat((sharp, blurry), 1))


class UNetLevel(nn.Module):
    """One U-Net level. Written without in-place ops: the skip carries the LeakyReLU-activated input, which is
    what the authors' in-place LeakyReLU produces."""

    def __init__(self, outer, inner, code_dim=0, submodule=None, outermost=False):
        super().__init__()
        self.outermost = outermost
        innermost = submodule is None
        down_conv = nn.Conv2d(outer, inner, 4, 2, 1, bias=False)
        self.down = nn.Sequential(down_conv) if outermost else nn.Sequential(
            nn.LeakyReLU(0.2), down_conv, *([] if innermost else [nn.Identity()]))
        if submodule is not None:
            self.submodule = submodule
        up_in = inner + code_dim if innermost else 2 * inner
        up_conv = nn.ConvTranspose2d(up_in, outer, 4, 2, 1, bias=outermost)
        self.up = nn.Sequential(nn.ReLU(), up_conv, nn.Tanh() if outermost else nn.Identity())

    def forward(self, x, code):
        if self.outermost:
            return self.up(self.submodule(self.down(x), code))
        activated = F.leaky_relu(x, 0.2)
        d = activated
        for layer in list(self.down)[1:]:
            d = layer(d)
        inner = self.submodule(d, code) if hasattr(self, 'submodule') else torch.cat((d, code), 1)
        return torch.cat((self.up(inner), activated), 1)


class Adapter(nn.Module):
    def __init__(self, nf, code_dim):
        super().__init__()
        level = UNetLevel(8 * nf, 8 * nf, code_dim=code_dim)
        level = UNetLevel(4 * nf, 8 * nf, submodule=level)
        level = UNetLevel(2 * nf, 4 * nf, submodule=level)
        level = UNetLevel(nf, 2 * nf, submodule=level)
        self.model = UNetLevel(nf, nf, submodule=level, outermost=True)

    def forward(self, x, code):
        return self.model(x, code)


class TinyKernelWizard(nn.Module):
    def __init__(self, c):
        super().__init__()
        nf, r = c['nf'], c['reconNf']
        out_nc = c['kernelDim'] * (2 if c['useVAE'] else 1)
        lrelu = nn.LeakyReLU(0.1)
        self.feature_extractor = nn.Sequential(
            nn.Conv2d(c['inputNc'], nf, 3, 1, 1), lrelu, nn.Conv2d(nf, nf, 3, 2, 1), lrelu,
            nn.Conv2d(nf, nf, 3, 2, 1), lrelu, *[ResidualNoBN(nf) for _ in range(c['frontRBs'])])
        self.kernel_extractor = KernelExtractor(nf, out_nc, c['extractorBlocks'])
        self.adapter = Adapter(nf, c['kernelDim'])
        self.recon_trunk = nn.Sequential(
            *[ResidualNoBN(nf) for _ in range(c['backRBs'])],
            nn.Conv2d(nf, 4 * nf, 3, 1, 1), nn.PixelShuffle(2), lrelu,
            nn.Conv2d(nf, 4 * r, 3, 1, 1), nn.PixelShuffle(2), lrelu,
            nn.Conv2d(r, r, 3, 1, 1), lrelu, nn.Conv2d(r, c['inputNc'], 3, 1, 1))

    def blur(self, x, code):
        return self.recon_trunk(self.adapter(self.feature_extractor(x), code)) + x

    def extract(self, x, y):
        return self.kernel_extractor(self.feature_extractor(x), self.feature_extractor(y))


def pattern(height, width, seed):
    """Integer test image, reproduced exactly by the TypeScript test: value = ((i * 5 + j * 3 + c * 50 +
    ((i // 8 + j // 8) % 2) * 60 + seed * 37) % 256) / 255 at channel c, row i, column j."""
    c, i, j = np.meshgrid(np.arange(3), np.arange(height), np.arange(width), indexing='ij')
    u8 = (i * 5 + j * 3 + c * 50 + ((i // 8 + j // 8) % 2) * 60 + seed * 37) % 256
    return torch.from_numpy(u8.astype(np.float32)[None]) / 255


def init_weights(model):
    """He-normal weights and small random biases, so activations keep an O(1) scale through the deep G and
    the comparison is not trivially met by near-zero outputs."""
    for m in model.modules():
        if isinstance(m, nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0, (2 / (m.in_channels * 4)) ** 0.5)
        elif isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, 0, (2 / (m.in_channels * m.kernel_size[0] ** 2)) ** 0.5)
        else:
            continue
        if m.bias is not None:
            nn.init.normal_(m.bias, 0, 0.1)


def main():
    torch.manual_seed(0)
    model = TinyKernelWizard(CONFIG).eval()
    init_weights(model)
    code = torch.randn(1, CONFIG['kernelDim'], F_SIZE[0] // 128, F_SIZE[1] // 128)
    x_f = pattern(*F_SIZE, seed=0)
    with torch.no_grad():
        g_out = model.extract(pattern(*G_SIZE, seed=0), pattern(*G_SIZE, seed=1))
        f_out = model.blur(x_f, code)
    print(f'G: {tuple(g_out.shape)} mean |.| {g_out.abs().mean():.4f}; '
          f'F: {tuple(f_out.shape)} mean |F - x| {(f_out - x_f).abs().mean():.4f}')

    os.makedirs(OUT_DIR, exist_ok=True)
    state = model.state_dict()
    torch.save(state, os.path.join(OUT_DIR, f'{NAME}.pth'))

    entries, chunks, offset = [], [], 0

    def add(name, array):
        nonlocal offset
        data = np.ascontiguousarray(array).tobytes()
        entries.append({'name': name, 'dtype': str(array.dtype), 'shape': list(array.shape),
                        'offset': offset, 'bytes': len(data)})
        chunks.append(data)
        offset += len(data)

    for key, tensor in state.items():
        add(f'state.{key}', tensor.numpy().astype('<f4'))
    add('input.code', code.numpy().astype('<f4'))
    add('output.G', g_out.numpy().astype('<f4'))
    add('output.F', f_out.numpy().astype('<f4'))

    with open(os.path.join(OUT_DIR, f'{NAME}.bin'), 'wb') as f:
        f.write(b''.join(chunks))
    index = {
        'description': 'Tiny KernelWizard: weights in PyTorch layout and reference outputs (NCHW). '
                       'G = extract(pattern(G_SIZE, seed 0), pattern(G_SIZE, seed 1)); '
                       'F = blur(pattern(F_SIZE, seed 0), input.code); pattern() is in the script.',
        'gSize': list(G_SIZE),
        'fSize': list(F_SIZE),
        'torch': torch.__version__,
        'config': CONFIG,
        'entries': entries,
    }
    with open(os.path.join(OUT_DIR, f'{NAME}.json'), 'w') as f:
        json.dump(index, f, indent=1)
    print(f'{len(state)} state_dict tensors, {offset} bytes of data')


if __name__ == '__main__':
    main()
