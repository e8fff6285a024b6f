using Alora.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Models;

/// <summary>
/// A decoder-only language model: input ids [B, T] (int64) to next-token logits [B, T, V].
/// Position ids start at 0 and attention is causal, so right padding never changes the
/// logits of earlier positions (batches pad on the right and mask the loss).
/// </summary>
public abstract class CausalLM : nn.Module<Tensor, Tensor>
{
    protected CausalLM(string name)
        : base(name) { }

    public abstract HfConfig Config { get; }
    public abstract string Architecture { get; }

    /// <summary>Longest sequence the model was trained on (max_position_embeddings / n_positions).</summary>
    public abstract int ContextLength { get; }
    public int VocabSize => Config.VocabSize;

    /// <summary>Final hidden states: ids [B,T] -> [B,T,C] (after the last norm).</summary>
    public abstract Tensor Hidden(Tensor ids);

    /// <summary>
    /// The same for ids [B,T] that follow the <see cref="KvCache.Length"/> positions held in <paramref name="cache"/>,
    /// whose keys and values it reads instead of recomputing them; the new ones are appended. positionIds [B,T]
    /// and mask [B,1,T,Length+T] (bool, true = read) serve left-padded rows; without them token i sits at
    /// Length + i and reads everything before it.
    /// </summary>
    public abstract Tensor Hidden(Tensor ids, KvCache cache, Tensor? positionIds = null, Tensor? mask = null);

    /// <summary>Decoder layers: one key/value pair per layer in a <see cref="KvCache"/>.</summary>
    public abstract int NumLayers { get; }

    /// <summary>An empty cache for up to <paramref name="capacity"/> positions.</summary>
    public KvCache NewCache(long capacity) => new(NumLayers, capacity);

    Bf16Storage? _bf16Storage;

    /// <summary>Keeps the frozen base Linear weights in bfloat16 from now on, the model computing in float32 (<see cref="Bf16Storage"/>).</summary>
    public void StoreLinearWeightsInBf16() => _bf16Storage ??= Bf16Storage.Apply(this);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            _bf16Storage?.Dispose();
        base.Dispose(disposing);
    }

    /// <summary>Output projection: hidden [..., C] -> logits [..., V] in float32.</summary>
    public abstract Tensor Head(Tensor hidden);

    /// <summary>ids [B,T] -> logits [B,T,V]. Prefer <see cref="Hidden"/> + chunked <see cref="Head"/> for long inputs or large vocabularies.</summary>
    public override Tensor forward(Tensor ids)
    {
        using var scope = NewDisposeScope();
        return Head(Hidden(ids)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Rows of logits computed at once when scoring or training: about 4M logits (16 MB), so the
    /// [B,T,V] tensor is never materialised. Fresh multi-hundred-MB buffers cost more in page
    /// faults than the matmul itself on small machines, and this keeps every buffer reusable.
    /// </summary>
    public int HeadChunkRows => Math.Max(1, (1 << 22) / Math.Max(1, VocabSize));

    /// <summary>Parameter names of the linear layers that LoRA can target (checkpoint-style paths).</summary>
    public IEnumerable<string> ParameterNames => named_parameters().Select(p => p.name);

    /// <summary>Random initialisation for pretraining from scratch, as HF's _init_weights: N(0, std) for matrices, zero biases, unit norms.</summary>
    public void InitWeights(double std = 0.02)
    {
        using var _ = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (
                name.EndsWith("norm.weight", StringComparison.Ordinal)
                || name.Contains("ln_", StringComparison.Ordinal) && name.EndsWith(".weight", StringComparison.Ordinal)
                || name.EndsWith("layernorm.weight", StringComparison.Ordinal)
            )
                p.Fill_(1.0);
            else if (name.EndsWith(".bias", StringComparison.Ordinal))
                p.zero_();
            else
                p.normal_(0, std);
        }
    }
}

/// <summary>Rotary position embeddings: inverse frequencies (with Llama 3 scaling) and cos/sin tables.</summary>
public static class Rope
{
    /// <summary>inv_freq_i = theta^(-2i/dim), i = 0..dim/2-1; llama3 scaling rescales the low frequencies (HF _compute_llama3_parameters).</summary>
    public static double[] InverseFrequencies(int dim, double theta, RopeScaling? scaling)
    {
        var inv = new double[dim / 2];
        for (int i = 0; i < inv.Length; i++)
            inv[i] = 1.0 / Math.Pow(theta, 2.0 * i / dim);
        if (scaling is null)
            return inv;
        switch (scaling.Kind)
        {
            case "llama3":
                double oldCtx = scaling.OriginalMaxPositionEmbeddings;
                double lowWavelen = oldCtx / scaling.LowFreqFactor,
                    highWavelen = oldCtx / scaling.HighFreqFactor;
                for (int i = 0; i < inv.Length; i++)
                {
                    double wavelen = 2 * Math.PI / inv[i];
                    if (wavelen < highWavelen)
                        continue; // high frequency: kept
                    if (wavelen > lowWavelen)
                    {
                        inv[i] /= scaling.Factor;
                        continue;
                    } // low frequency: divided by factor
                    double smooth = (oldCtx / wavelen - scaling.LowFreqFactor) / (scaling.HighFreqFactor - scaling.LowFreqFactor);
                    inv[i] = (1 - smooth) * inv[i] / scaling.Factor + smooth * inv[i]; // medium band: interpolated
                }
                return inv;
            case "linear":
                return inv.Select(f => f / scaling.Factor).ToArray();
            default:
                return inv;
        }
    }

    /// <summary>angles [T, dim/2] = position * inv_freq, computed in float32 as transformers does.</summary>
    public static Tensor Angles(long seqLen, double[] invFreq, Device device)
    {
        using var scope = NewDisposeScope();
        var pos = ScalarOps.Arange(seqLen, ScalarType.Float32, device); // [T]
        var inv = tensor(invFreq.Select(f => (float)f).ToArray(), device: device); // [dim/2]
        return outer(pos, inv).MoveToOuterDisposeScope(); // [T, dim/2]
    }
}

/// <summary>
/// cos and sin of the rotary angles for positions 0..n-1, computed once per model instead of on every forward
/// pass. Each entry is the same float32 product and cos/sin as the per-call computation, so results do not change.
/// Llama lays a frequency out as [angles, angles] (rotate_half), GPT-J repeats it for its (2i, 2i+1) pair.
/// With <paramref name="signedSin"/> the first half of the sin table is negated: rotate_half's minus sign moves
/// from the activations into the table.
/// </summary>
public sealed class RopeTable(double[] invFreq, bool interleaved, bool signedSin = false) : IDisposable
{
    Tensor? _cos,
        _sin;

    /// <summary>cos, sin [n, D] for positions 0..n-1.</summary>
    public (Tensor Cos, Tensor Sin) Table(long n, ScalarType dtype, Device device)
    {
        if (_cos is null || _sin is null || _cos.dtype != dtype || _cos.device != device)
            Build(n, dtype, device);
        else if (_cos.shape[0] < n)
            Build(Math.Max(n, 2 * _cos.shape[0]), dtype, device); // decoding asks one position more per step: grow by doubling
        return (_cos!.narrow(0, 0, n), _sin!.narrow(0, 0, n));
    }

    /// <summary>cos, sin [B, T, D] at positions [B, T] (int64), each below <paramref name="bound"/>.</summary>
    public (Tensor Cos, Tensor Sin) At(Tensor positions, long bound, ScalarType dtype, Device device)
    {
        var (cos, sin) = Table(bound, dtype, device);
        var flat = positions.reshape(-1);
        long b = positions.shape[0],
            t = positions.shape[1];
        return (cos.index_select(0, flat).view(b, t, -1), sin.index_select(0, flat).view(b, t, -1));
    }

    void Build(long n, ScalarType dtype, Device device)
    {
        using var scope = NewDisposeScope();
        var angles = Rope.Angles(n, invFreq, device); // [n, D/2]
        var emb = interleaved ? angles.repeat_interleave(2, dim: 1) : cat([angles, angles], -1); // [n, D]
        var cos = emb.cos().to_type(dtype).DetachFromDisposeScope();
        var sin = emb.sin().to_type(dtype);
        if (signedSin)
        {
            long half = sin.shape[1] / 2;
            sin = cat([-sin.narrow(1, 0, half), sin.narrow(1, half, half)], 1); // [-s, s]
        }
        sin = sin.DetachFromDisposeScope();
        Dispose();
        (_cos, _sin) = (cos, sin);
    }

    public void Dispose()
    {
        _cos?.Dispose();
        _sin?.Dispose();
        _cos = _sin = null;
    }
}
