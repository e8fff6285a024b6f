using Alora.Models;
using Alora.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Alora.Lora;

/// <summary>
/// PEFT's LoRA layer: keeps the original layer as base_layer (frozen) and adds
/// y = base_layer(x) + s * lora_B(lora_A(dropout(x))), with A (r x in) kaiming-uniform (a = sqrt 5)
/// and B (out x r) zero, so D = s * B @ A is the change of the effective weight (out x in).
/// A GPT-2 Conv1D base (weight in x out, PEFT's fan_in_fan_out) gets the transposed delta on merge.
/// A and B are float32 whatever the model's dtype (PEFT's autocast_adapter_dtype): in a bfloat16 or float16 model
/// the branch computes in float32 and only the sum is rounded to the model's dtype, so the small updates of the
/// factors are not lost to bfloat16's 8-bit mantissa.
/// </summary>
public sealed class LoraLinear : nn.Module<Tensor, Tensor>
{
    public readonly nn.Module<Tensor, Tensor> base_layer;
    public readonly Models.Linear lora_A;
    public readonly Models.Linear lora_B;
    readonly double _dropout;

    /// <summary>
    /// s of y = W0 x + s B A x: alpha / r (alpha / sqrt r for rsLoRA) times <see cref="AdapterScale"/>.
    /// </summary>
    public double Scaling { get; }

    /// <summary>
    /// beta, the multiplier an adapter was applied with (adapter scaling, WiSE-FT on the adapter): 1 but when an
    /// adapter is loaded to evaluate or merge W0 + beta D. s * 1 is s exactly, so beta = 1 is the unscaled adapter bit for bit;
    /// beta = 0 makes the branch add exactly 0.
    /// </summary>
    public double AdapterScale { get; }
    public int Rank { get; }
    public long InFeatures { get; }
    public long OutFeatures { get; }

    /// <summary>True when the base weight is stored (in x out), as GPT-2's Conv1D.</summary>
    public bool FanInFanOut { get; }
    public bool Merged { get; private set; }

    /// <summary>
    /// When set (zeros, requires_grad), the base layer computes with W0 + probe so that probe.grad is
    /// dL/dW of the effective weight: the exact Synaptic-Intelligence variant reads it. (out x in) layout.
    /// </summary>
    public Tensor? GradientProbe { get; private set; }

    public LoraLinear(nn.Module<Tensor, Tensor> baseLayer, int rank, double scaling, double dropout, double adapterScale = 1)
        : base("LoraLinear")
    {
        (InFeatures, OutFeatures, FanInFanOut) = baseLayer switch
        {
            Models.Linear l => (l.InFeatures, l.OutFeatures, false),
            Conv1D c => (c.InFeatures, c.OutFeatures, true),
            _ => throw new AloraException($"LoRA can wrap Linear or Conv1D layers, not {baseLayer.GetType().Name}"),
        };
        base_layer = baseLayer;
        Rank = rank;
        AdapterScale = adapterScale;
        Scaling = scaling * adapterScale;
        _dropout = dropout;
        var device = BaseWeight.device;
        lora_A = new Models.Linear(InFeatures, rank, false);
        lora_B = new Models.Linear(rank, OutFeatures, false);
        lora_A.to(device);
        lora_B.to(device);
        ResetParameters();
        RegisterComponents();
    }

    public Parameter BaseWeight =>
        base_layer switch
        {
            Models.Linear l => l.weight,
            Conv1D c => c.weight,
            _ => throw new InvalidOperationException(),
        };
    Tensor? BaseBias =>
        base_layer switch
        {
            Models.Linear l => l.bias,
            Conv1D c => c.bias,
            _ => null,
        };

    /// <summary>A: kaiming_uniform_(a = sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)); B: zeros (PEFT's init_lora_weights=True).</summary>
    public void ResetParameters()
    {
        using var _ = no_grad();
        nn.init.kaiming_uniform_(lora_A.weight, Math.Sqrt(5));
        lora_B.weight.zero_();
    }

    // x [..., in] -> [..., out]
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor result;
        if (GradientProbe is { } probe && !Merged)
        {
            var w = FanInFanOut ? BaseWeight.t() : (Tensor)BaseWeight;
            var bias = BaseBias is { } b && b.dtype != x.dtype ? b.to_type(x.dtype) : BaseBias; // a bias kept in bfloat16 (Bf16Storage)
            result = nn.functional.linear(x, w.Plus(probe), bias);
        }
        else
            result = base_layer.forward(x);
        if (Merged)
            return result.MoveToOuterDisposeScope();
        var h = training && _dropout > 0 ? nn.functional.dropout(x, _dropout, true) : x;
        var factors = lora_A.weight.dtype;
        if (x.dtype == factors)
            return result.Plus(lora_B.forward(lora_A.forward(h)).Times(Scaling)).MoveToOuterDisposeScope();
        // a bfloat16/float16 model: the branch runs in the factors' float32 and the sum is rounded once, as PEFT does
        var branch = lora_B.forward(lora_A.forward(h.to_type(factors))).Times(Scaling); // [..., out] float32
        return result.Plus(branch).to_type(x.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>D = s * B @ A (out x in).</summary>
    public Tensor DeltaWeight()
    {
        using var scope = NewDisposeScope();
        return lora_B.weight.matmul(lora_A.weight).Times(Scaling).MoveToOuterDisposeScope();
    }

    /// <summary>W0 += D (stored layout), after which forward skips the LoRA branch.</summary>
    public void Merge()
    {
        if (Merged)
            return;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var d = DeltaWeight();
        BaseWeight.Plus_(FanInFanOut ? d.t() : d);
        Merged = true;
    }

    /// <summary>W0 -= D: restores the original weight (up to float rounding).</summary>
    public void Unmerge()
    {
        if (!Merged)
            return;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var d = DeltaWeight();
        BaseWeight.sub_(FanInFanOut ? d.t() : d);
        Merged = false;
    }

    public void EnableGradientProbe()
    {
        GradientProbe ??= zeros(OutFeatures, InFeatures, BaseWeight.dtype, BaseWeight.device).requires_grad_(true);
    }

    public void DisableGradientProbe()
    {
        GradientProbe?.Dispose();
        GradientProbe = null;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            DisableGradientProbe();
        base.Dispose(disposing);
    }
}
