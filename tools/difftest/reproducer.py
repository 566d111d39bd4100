"""A standalone script that reproduces one program's failure: the program's module and inputs,
the conversion, and the comparison of both LiteRT runtimes with PyTorch (float64, or the PT2E
reference for int8 programs). Needs only torch, ai-edge-litert and pt2tflite."""

from __future__ import annotations

from difftest.program import Program, module_source

_FLOAT_MAIN = '''

if __name__ == "__main__":
    import copy

    import numpy as np
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    import pt2tflite

    model, xs = Program().eval(), inputs()
    with torch.no_grad():
        want = copy.deepcopy(model).double()(*[x.double() for x in xs])
    want = [w.numpy() for w in (want if isinstance(want, tuple) else (want,))]
    tflite = pt2tflite.convert(model, xs).tflite_bytes
    for name, resolver in (("xnnpack", OpResolverType.AUTO), ("builtin", OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)):
        itp = Interpreter(model_content=tflite, experimental_op_resolver_type=resolver)
        itp.allocate_tensors()
        for d, x in zip(itp.get_input_details(), xs):
            itp.set_tensor(d["index"], x.numpy())
        itp.invoke()
        for k, (d, w) in enumerate(zip(itp.get_output_details(), want)):
            got = itp.get_tensor(d["index"])
            err = np.abs(got - w).max() if got.shape == w.shape else float("inf")
            print(f"{name} output {k}: shape {got.shape} vs {w.shape}, max|diff| {err:.3g}, max|ref| {np.abs(w).max():.3g}")
'''

_INT8_MAIN = '''

if __name__ == "__main__":
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    import pt2tflite
    from pt2tflite.quantize import PT2EQuantizer, get_symmetric_quantization_config

    xs = inputs()
    m = torch.export.export(Program().eval(), xs).module()
    m = prepare_pt2e(m, PT2EQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True)))
    for salt in range(4):
        m(*inputs(salt))
    ref = convert_pt2e(m)
    want = ref(*xs)
    want = [w.detach().numpy() for w in (want if isinstance(want, tuple) else (want,))]
    tflite = pt2tflite.convert(ref, xs).tflite_bytes
    for name, resolver in (("xnnpack", OpResolverType.AUTO), ("builtin", OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)):
        itp = Interpreter(model_content=tflite, experimental_op_resolver_type=resolver)
        itp.allocate_tensors()
        for d, x in zip(itp.get_input_details(), xs):
            itp.set_tensor(d["index"], x.numpy())
        itp.invoke()
        for k, (d, w) in enumerate(zip(itp.get_output_details(), want)):
            got = itp.get_tensor(d["index"])
            err = np.abs(got - w).max() if got.shape == w.shape else float("inf")
            print(f"{name} output {k}: shape {got.shape} vs {w.shape}, max|diff| {err:.3g}, max|ref| {np.abs(w).max():.3g}")
'''


def script(p: Program, note: str = "") -> str:
    head = f'"""difftest reproducer for program {p.name}{": " + note if note else ""}"""\n'
    return head + module_source(p) + (_INT8_MAIN if p.int8 else _FLOAT_MAIN)
