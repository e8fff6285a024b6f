using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Models;

/// <summary>
/// Frozen Linear weights (all but the output head) kept in bfloat16 while the model computes in float32 (<c>--base-weights-dtype bfloat16</c>):
/// half the weights' memory, the arithmetic unchanged. Each product widens its weight into a float32 scratch matrix
/// reused across calls (fresh buffers per call cost more in page faults than the widening itself), and the backward
/// pass widens it again for the input gradient, so no float32 copy outlives its product. A checkpoint stored in
/// bfloat16 (TinyLlama, Llama 3) widens exactly: the model then computes bit for bit what its float32 load computes.
/// </summary>
public sealed class Bf16Storage : IDisposable
{
    readonly Dictionary<(long, long), Tensor> _scratch = [];
    readonly object _gate = new();

    /// <summary>
    /// Stores every base <see cref="Linear"/> of a float32 model in bfloat16 (before LoRA is injected: its factors stay
    /// float32). Best before the weights are filled (<see cref="ModelLoader.Load"/>), so that no float32 copy of them is
    /// ever resident. The model owns the result (<see cref="CausalLM.StoreLinearWeightsInBf16"/>).
    /// </summary>
    internal static Bf16Storage Apply(CausalLM model)
    {
        ArgumentNullException.ThrowIfNull(model);
        // not lm_head: its one [V, C] matrix would need a float32 scratch of its own, twice what bfloat16 saves on it
        var linears = model.named_modules().Where(m => m.name != "lm_head").Select(m => m.module).OfType<Linear>().ToList();
        if (model.modules().OfType<Conv1D>().Any())
            throw new AloraException(
                $"--base-weights-dtype bfloat16 stores Linear layers; {model.Architecture}'s attention and MLP are Conv1D layers, which it does not cover"
            );
        if (linears.Any(l => l.weight.dtype != ScalarType.Float32))
            throw new AloraException("--base-weights-dtype bfloat16 needs a model that computes in float32 (--dtype float32)");
        var storage = new Bf16Storage();
        foreach (var l in linears)
            l.StoreInBf16(storage);
        return storage;
    }

    /// <summary>x [..., in] float32, w [out, in] bfloat16 (frozen), b [out] or null -> [..., out] float32.</summary>
    internal Tensor Linear(Tensor x, Tensor w, Tensor? b)
    {
        if (x.dtype != ScalarType.Float32)
            throw new AloraException($"a weight stored in bfloat16 computes with float32 inputs, not {x.dtype}");
        if (w.requires_grad && is_grad_enabled())
            throw new AloraException(
                "a weight stored in bfloat16 is frozen: this computation needs its gradient (an EWC Fisher or a method that trains base weights); use --base-weights-dtype float32"
            );
        return b is null ? Widened.apply(x, w, this) : Widened.apply(x, w, this, b);
    }

    // w widened into the scratch matrix of its shape; callers hold the gate until they are done with it
    Tensor Wide(Tensor w)
    {
        var key = (w.shape[0], w.shape[1]);
        if (!_scratch.TryGetValue(key, out var buffer))
            _scratch[key] = buffer = empty([key.Item1, key.Item2], ScalarType.Float32, w.device).DetachFromDisposeScope();
        return buffer.copy_(w);
    }

    Tensor? _returned;

    // The engine takes its own reference to a gradient a backward call returns, once the call is over; the handle
    // returned stays ours. Released at the next call (the engine is done with it then), not left to the finalizer.
    void KeepUntilNextCall(Tensor dx)
    {
        _returned?.Dispose();
        _returned = dx.DetachFromDisposeScope();
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _returned?.Dispose();
            _returned = null;
            foreach (var t in _scratch.Values)
                t.Dispose();
            _scratch.Clear();
        }
    }

    /// <summary>y = x W^T + b with W widened for the product; the backward widens W again for dx = dy W (W and b get none).</summary>
    sealed class Widened : torch.autograd.SingleTensorFunction<Widened>
    {
        public override string Name => "Bf16StoredLinear";

        public override Tensor forward(torch.autograd.AutogradContext ctx, params object[] vars)
        {
            var (x, w, storage, b) = ((Tensor)vars[0], (Tensor)vars[1], (Bf16Storage)vars[2], vars.Length > 3 ? (Tensor)vars[3] : null);
            ctx.save_for_backward([w]);
            ctx.save_data("storage", storage);
            using var bias = b?.to_type(ScalarType.Float32); // the bias was stored with the weight
            lock (storage._gate)
            {
                storage._returned?.Dispose(); // the last backward's gradient: the engine is done with it
                storage._returned = null;
                return nn.functional.linear(x, storage.Wide(w), bias);
            }
        }

        public override List<Tensor> backward(torch.autograd.AutogradContext ctx, Tensor grad)
        {
            var storage = (Bf16Storage)ctx.get_data("storage");
            using var w = ctx.get_saved_variables()[0];
            lock (storage._gate)
            {
                var dx = grad.matmul(storage.Wide(w)); // [..., out] @ [out, in] -> [..., in]
                grad.Dispose(); // this handle is the callback's own; the engine keeps its gradient
                storage.KeepUntilNextCall(dx);
                return [dx, null!, null!, null!];
            }
        }
    }
}
