#!/usr/bin/python3.11
"""Writes the small checkpoint fixtures used by test/unit/checkpoint*.test.ts.

Run from the repository root: /usr/bin/python3.11 scripts/make-checkpoint-fixtures.py
Each <name>.pth gets a <name>.expected.json holding the float32 values the loader must return.
The malicious fixtures are assembled from raw pickle opcodes and are never unpickled here.
"""

import collections
import io
import json
import os
import struct
import zipfile
import zlib

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'checkpoints')
# The malicious pickle would create this file if some loader ever executed it.
PWNED_MARKER = '/tmp/blurspace-checkpoint-pwned-marker'


def write_entry(archive, name, data):
    # A fixed timestamp keeps regenerated fixtures byte-identical.
    archive.writestr(zipfile.ZipInfo(name, date_time=(2021, 6, 19, 0, 0, 0)), data, archive.compression)


def path(name):
    return os.path.join(OUT, name)


def expected(name, tensors):
    data = {
        'tensors': {
            key: {'shape': list(t.shape), 'values': t.detach().to(torch.float32).reshape(-1).tolist()}
            for key, t in tensors.items()
        }
    }
    with open(path(name + '.expected.json'), 'w') as f:
        json.dump(data, f, indent=1)
        f.write('\n')


def save(name, obj, tensors, **kwargs):
    torch.save(obj, path(name + '.pth'), **kwargs)
    expected(name, tensors)


def basic_state_dict():
    conv = torch.nn.Conv2d(3, 4, 3)
    bn = torch.nn.BatchNorm2d(4)
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    model = torch.nn.Sequential(conv, bn)
    return model.state_dict()


def float_only(sd):
    return collections.OrderedDict((k, v) for k, v in sd.items() if v.is_floating_point())


def make_basic():
    sd = basic_state_dict()
    save('basic', sd, float_only(sd))
    return sd


def make_dtypes():
    sd = collections.OrderedDict()
    sd['half'] = (torch.randn(3, 5) * 10).to(torch.float16)
    sd['double'] = torch.randn(2, 2, 3, dtype=torch.float64)
    sd['bfloat'] = torch.randn(7).to(torch.bfloat16)
    sd['special'] = torch.tensor([0.0, -0.0, 65504.0, 6e-8, -1.5, 1e-5], dtype=torch.float16)
    sd['scalar'] = torch.tensor(2.5)
    sd['empty'] = torch.zeros(0, 3)
    sd['index'] = torch.arange(4)
    save('dtypes', sd, float_only(sd))


def make_views():
    base = torch.arange(40, dtype=torch.float32) / 4
    matrix = torch.randn(3, 4)
    sd = collections.OrderedDict()
    sd['transposed'] = matrix.t()
    sd['shared.a'] = base[2:8]
    sd['shared.b'] = base[10:22].view(3, 4)
    sd['shared.strided'] = base[1:40:5]
    sd['shared.columns'] = base[:24].view(4, 6)[:, 1:4]
    sd['expanded'] = torch.tensor([1.0, 2.0, 3.0]).view(3, 1).expand(3, 4)
    assert not sd['transposed'].is_contiguous()
    assert sd['shared.a'].storage().data_ptr() == sd['shared.b'].storage().data_ptr()
    save('views', sd, sd)


def make_module_prefix():
    sd = collections.OrderedDict()
    sd['module.conv.weight'] = torch.randn(2, 1, 3, 3)
    sd['module.conv.bias'] = torch.randn(2)
    sd['head.weight'] = torch.randn(2)
    save('module_prefix', sd, collections.OrderedDict((k.removeprefix('module.'), v) for k, v in sd.items()))


def make_wrapped(sd):
    wrapped = {
        'epoch': 3,
        'lr': 1e-4,
        'big': 2**70,
        'name': 'KernelWizard',
        'flags': [True, False, None, (1, -2, 300, 70000)],
        'state_dict': sd,
    }
    save('wrapped_state_dict', wrapped, float_only(sd))
    params = {'params': collections.OrderedDict((k, v) for k, v in float_only(sd).items()), 'iter': 1000}
    save('wrapped_params', params, float_only(sd))


def make_parameters():
    sd = {'w': torch.nn.Parameter(torch.randn(2, 3)), 'b': torch.nn.Parameter(torch.randn(3), requires_grad=False)}
    save('parameters', sd, sd)


def make_no_weights():
    torch.save({'epoch': 3, 'optimizer': {'lr': 0.1}}, path('no_weights.pth'))


def make_legacy(sd):
    save('legacy', sd, float_only(sd), _use_new_zipfile_serialization=False)
    views = torch.load(path('views.pth'))
    save('legacy_views', views, views, _use_new_zipfile_serialization=False)


def make_truncated():
    with open(path('basic.pth'), 'rb') as f:
        data = f.read()
    with open(path('truncated.pth'), 'wb') as f:
        f.write(data[: len(data) * 3 // 5])


def make_corrupt():
    with open(path('basic.pth'), 'rb') as f:
        data = bytearray(f.read())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = next(i for i in z.infolist() if '/data/' in i.filename)
    name_len, extra_len = struct.unpack_from('<HH', data, info.header_offset + 26)
    start = info.header_offset + 30 + name_len + extra_len
    data[start + 5] ^= 0x40
    with open(path('corrupt.pth'), 'wb') as f:
        f.write(bytes(data))


def read_entries(name):
    with zipfile.ZipFile(path(name)) as z:
        return [(i.filename, z.read(i.filename)) for i in z.infolist()]


def make_deflated():
    with zipfile.ZipFile(path('deflated.pth'), 'w', zipfile.ZIP_DEFLATED) as z:
        for name, data in read_entries('basic.pth'):
            write_entry(z, name, data)


def write_zip64(out_name, entries):
    """A minimal writer that always uses zip64 size/offset fields, as torch does for files over 4 GB."""
    out = bytearray()
    central = bytearray()
    for name, data in entries:
        encoded = name.encode()
        crc = zlib.crc32(data)
        offset = len(out)
        local_extra = struct.pack('<HHQQ', 1, 16, len(data), len(data))
        out += struct.pack('<IHHHHHIIIHH', 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                           len(encoded), len(local_extra))
        out += encoded + local_extra + data
        extra = struct.pack('<HHQQQ', 1, 24, len(data), len(data), offset)
        central += struct.pack('<IHHHHHHIIIHHHHHII', 0x02014B50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF,
                               0xFFFFFFFF, len(encoded), len(extra), 0, 0, 0, 0, 0xFFFFFFFF)
        central += encoded + extra
    cd_offset = len(out)
    out += central
    eocd64_offset = len(out)
    out += struct.pack('<IQHHIIQQQQ', 0x06064B50, 44, 45, 45, 0, 0, len(entries), len(entries), len(central),
                       cd_offset)
    out += struct.pack('<IIQI', 0x07064B50, 0, eocd64_offset, 1)
    out += struct.pack('<IHHHHIIH', 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    with open(path(out_name), 'wb') as f:
        f.write(bytes(out))


def malicious_zip(out_name, pickle_bytes, storages=()):
    with zipfile.ZipFile(path(out_name), 'w', zipfile.ZIP_STORED) as z:
        write_entry(z, 'archive/data.pkl', pickle_bytes)
        for key, data in storages:
            write_entry(z, 'archive/data/' + key, data)
        write_entry(z, 'archive/version', b'3\n')


def make_malicious():
    command = ('touch ' + PWNED_MARKER).encode()
    # PROTO 2; GLOBAL os.system; BINUNICODE command; TUPLE1; REDUCE; STOP
    os_system = b'\x80\x02cos\nsystem\nq\x00X' + struct.pack('<I', len(command)) + command + b'\x85R.'
    malicious_zip('malicious_os_system.pth', os_system)
    code = ('open(' + repr(PWNED_MARKER) + ', "w")').encode()
    # A state_dict whose second value is builtins.eval(code), reached through STACK_GLOBAL (protocol 4).
    weight = (b'ctorch._utils\n_rebuild_tensor_v2\nq\x01((X\x07\x00\x00\x00storageq\x02ctorch\nFloatStorage\n'
              b'q\x03X\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x01tQK\x00K\x01\x85K\x01\x85\x89)tR')
    evil = (b'\x8c\x08builtins\x8c\x04eval\x93X' + struct.pack('<I', len(code)) + code + b'\x85R')
    stack_global = (b'\x80\x04ccollections\nOrderedDict\n)R(X\x06\x00\x00\x00weight' + weight +
                    b'X\x04\x00\x00\x00evil' + evil + b'u.')
    malicious_zip('malicious_eval.pth', stack_global, [('0', struct.pack('<f', 1.0))])


def make_safetensors_f16():
    """A safetensors file written independently of the TypeScript writer (no Blurspace metadata)."""
    tensors = collections.OrderedDict()
    tensors['a.half'] = (torch.randn(2, 3) * 4).to(torch.float16)
    tensors['b.bf16'] = torch.randn(5).to(torch.bfloat16)
    tensors['c.f64'] = torch.randn(3, dtype=torch.float64)
    tensors['d.f32'] = torch.randn(2, 2)
    dtypes = {torch.float16: 'F16', torch.bfloat16: 'BF16', torch.float64: 'F64', torch.float32: 'F32'}
    header = {'__metadata__': {'source': 'fixture'}}
    blobs = []
    offset = 0
    for key, t in tensors.items():
        raw = t.contiguous().view(torch.uint8).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[key] = {'dtype': dtypes[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b' ' * (-len(text) % 8)
    with open(path('foreign.safetensors'), 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(blobs))
    expected('foreign', tensors)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    sd = make_basic()
    make_dtypes()
    make_views()
    make_module_prefix()
    make_wrapped(sd)
    make_parameters()
    make_no_weights()
    make_legacy(sd)
    make_truncated()
    make_corrupt()
    make_deflated()
    write_zip64('zip64.pth', read_entries('basic.pth'))
    make_malicious()
    make_safetensors_f16()


if __name__ == '__main__':
    main()
