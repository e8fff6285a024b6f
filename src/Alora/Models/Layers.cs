using Alora.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Alora.Models;

// Building blocks whose parameter names equal HuggingFace checkpoint keys. They are created with
// uninitialised storage (torch.empty): a checkpoint fills them; InitNormal serves pretraining.

/// <summary>y = x W^T + b, W (out x in), as torch.nn.Linear.</summary>
public sealed class Linear : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;
    public readonly Parameter? bias;
    public long InFeatures { get; }
    public long OutFeatures { get; }

    public Linear(long inFeatures, long outFeatures, bool hasBias)
        : base(nameof(Linear))
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        weight = new Parameter(empty(outFeatures, inFeatures));
        if (hasBias)
            bias = new Parameter(empty(outFeatures));
        RegisterComponents();
    }

    Bf16Storage? _bf16;

    /// <summary>Keeps the weight (and bias) in bfloat16 from now on; products widen it to float32 (<see cref="Bf16Storage"/>).</summary>
    internal void StoreInBf16(Bf16Storage storage)
    {
        using var _ = no_grad();
        this.to(ScalarType.BFloat16);
        foreach (var p in parameters())
            p.requires_grad_(false); // frozen: the product gives them no gradient
        _bf16 = storage;
    }

    // x [..., in] -> [..., out]; one row (a decoding step) goes through a matrix-vector product, which reads W once,
    // where a one-row matrix product packs all of W first
    public override Tensor forward(Tensor x)
    {
        if (_bf16 is not null)
            return _bf16.Linear(x, weight, bias);
        if (x.numel() != InFeatures)
            return nn.functional.linear(x, weight, bias);
        using var scope = NewDisposeScope();
        var y = weight.mv(x.view(InFeatures)); // [out]
        if (bias is not null)
            y = y.Plus(bias);
        return y.view([.. x.shape[..^1], OutFeatures]).MoveToOuterDisposeScope();
    }
}

/// <summary>GPT-2's Conv1D: y = x W + b with W stored (in x out), the transpose of Linear's layout.</summary>
public sealed class Conv1D : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;
    public readonly Parameter bias;
    public long InFeatures { get; }
    public long OutFeatures { get; }

    public Conv1D(long inFeatures, long outFeatures)
        : base(nameof(Conv1D))
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        weight = new Parameter(empty(inFeatures, outFeatures));
        bias = new Parameter(empty(outFeatures));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => addmm(bias, x.reshape(-1, InFeatures), weight, 1, 1).view([.. x.shape[..^1], OutFeatures]);
}

/// <summary>Token embedding table (vocab x hidden).</summary>
public sealed class Embedding : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;

    public Embedding(long vocab, long dim)
        : base(nameof(Embedding))
    {
        weight = new Parameter(empty(vocab, dim));
        RegisterComponents();
    }

    // ids [B,T] -> [B,T,C]
    public override Tensor forward(Tensor ids) => weight.index_select(0, ids.reshape(-1)).view(ids.shape[0], ids.shape[1], -1);
}

/// <summary>RMSNorm as Llama: x / sqrt(mean(x^2) + eps) * weight, computed in float32.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;
    readonly double _eps;

    public RmsNorm(long dim, double eps)
        : base(nameof(RmsNorm))
    {
        _eps = eps;
        weight = new Parameter(ones(dim));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        bool f32 = x.dtype == ScalarType.Float32; // to_type to its own dtype is the same tensor: skip the call
        var xf = f32 ? x : x.to_type(ScalarType.Float32);
        var normed = xf * rsqrt(xf.Squared().mean([-1], keepdim: true).Plus(_eps));
        return (weight * (f32 ? normed : normed.to_type(x.dtype))).MoveToOuterDisposeScope();
    }
}

/// <summary>LayerNorm with weight and bias (GPT-J, GPT-2).</summary>
public sealed class LayerNorm : nn.Module<Tensor, Tensor>
{
    public readonly Parameter weight;
    public readonly Parameter bias;
    readonly long _dim;
    readonly double _eps;

    public LayerNorm(long dim, double eps)
        : base(nameof(LayerNorm))
    {
        _dim = dim;
        _eps = eps;
        weight = new Parameter(ones(dim));
        bias = new Parameter(zeros(dim));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => nn.functional.layer_norm(x, [_dim], weight, bias, _eps);
}

public static class Activations
{
    /// <summary>GPT-2's "gelu_new": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).</summary>
    public static Tensor GeluNew(Tensor x) => nn.functional.gelu(x, TorchSharp.Modules.GELU.Approximate.tanh);

    static readonly Dictionary<string, Func<Tensor, Tensor>> ByName = new(StringComparer.Ordinal)
    {
        ["silu"] = x => nn.functional.silu(x),
        ["swish"] = x => nn.functional.silu(x),
        ["gelu_new"] = GeluNew,
        ["gelu_pytorch_tanh"] = GeluNew,
        ["gelu_fast"] = GeluNew,
        ["gelu"] = x => nn.functional.gelu(x),
        ["relu"] = x => nn.functional.relu(x),
    };

    /// <summary>config.json's hidden_act / activation_function names this code implements (HfConfig validates against them).</summary>
    public static IReadOnlyCollection<string> Names => ByName.Keys;

    public static Tensor Apply(string name, Tensor x) =>
        ByName.TryGetValue(name, out var f) ? f(x) : throw new AloraException($"activation '{name}' is not supported");
}
