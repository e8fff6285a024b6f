using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Alora.IO;
using Alora.Lora;
using Alora.Runtime;
using Alora.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Methods;

/// <summary>How the per-module weights w_m are formed from the importance norms n_m = ||Omega_m||_2.</summary>
/// <summary>How the layer weights w_m come from the modules' importance norms (option layer-weights).</summary>
[JsonConverter(typeof(NamedEnumConverter<LayerWeighting>))]
public enum LayerWeighting
{
    /// <summary>The paper's rule: w = softmax(n). Saturates to nearly one module when norms differ by a few units.</summary>
    Softmax,

    /// <summary>w = softmax(n / mean(n)): the same ordering, independent of Omega's overall scale.</summary>
    SoftmaxNormalized,

    /// <summary>w = softmax(log n) = n / sum(n): proportional to the norms.</summary>
    SoftmaxLog,

    /// <summary>The "-layer" ablation: w = 1/M.</summary>
    Uniform,
}

/// <summary>
/// Stage mu: the ALoRA penalty added to the domain cross-entropy,
///   phi * sum_m w_m * sum_i Omega_{m,i} (D_{m,i} - D_nu_{m,i})^2,
/// with D - D_nu = s [B, -B_nu] @ [A; A_nu] formed as one GEMM of inner size 2r into a reused buffer, the
/// gradient in A and B formed directly (two thin GEMMs), and w computed once from the importance norms with
/// a numerically stable softmax.
/// With a relative strength rho, phi is set at the first step from the cross-entropy CE_0 of that step:
///   phi = rho * CE_0 / P_ref,  P_ref = sum_m w_m * sum_i Omega_{m,i} (D_nu_{m,i})^2,
/// the penalty of a move as far as the general stage moved the adapter (from its B = 0 start to D_nu): rho is the
/// fraction of the initial cross-entropy such a move costs, whatever the units of Omega. The phi it gives is kept in
/// checkpoints and written to layer_weights.json.
/// </summary>
public sealed class AloraRegularizer : ITrainingHook, IRunArtifacts
{
    readonly IReadOnlyList<AdaptedModule> _adapters;
    readonly Tensor[] _omega;

    // Per module [out,2r] = [B, -B_nu] and [2r,in] = [A; A_nu]: the stage-nu halves are set once, B and A copied in each step.
    readonly Tensor[] _left,
        _right;

    // D - D_nu and Omega (D - D_nu) of one module at a time: flat buffers of the largest out*in, shared by the modules.
    readonly Tensor _diffScratch,
        _weightedScratch;
    readonly double _phi;
    readonly RelativeStrength? _relative;

    /// <summary>P_ref of the relative strength: the penalty at D - D_nu = D_nu with phi = 1.</summary>
    public double ReferencePenalty { get; }

    /// <summary>The strength in use: the given phi, or the one a relative strength gave (NaN until the first step).</summary>
    public double Phi => _relative?.Value ?? _phi;

    public double[] Norms { get; }
    public double[] Weights { get; }

    /// <summary>The importance file the penalty reads (the prior of a recording of this stage, eq. 15).</summary>
    public string ImportancePath { get; }
    public LayerWeighting Weighting { get; }

    public AloraRegularizer(
        IReadOnlyList<AdaptedModule> adapters,
        ImportanceFile importance,
        string importancePath,
        double phi,
        LayerWeighting weighting,
        double? relativeStrength = null
    )
    {
        if (phi < 0 || double.IsNaN(phi))
            throw new AloraException($"--phi must be non-negative (got {phi})");
        importance.Validate(adapters, importancePath);
        _adapters = adapters;
        _phi = phi;
        Weighting = weighting;
        ImportancePath = importancePath;
        var device = adapters[0].Layer.BaseWeight.device;
        using (NewDisposeScope()) // temporaries go; the detached state stays, owned by this object
        using (no_grad())
        {
            using (NewDisposeScope())
                _omega = adapters.Select(a => importance.Omega[a.Path].to(device).detach().clone().DetachFromDisposeScope()).ToArray();
            _left = adapters.Select(a => BNuHalf(importance.B[a.Path].to(device)).DetachFromDisposeScope()).ToArray();
            _right = adapters.Select(a => ANuHalf(importance.A[a.Path].to(device)).DetachFromDisposeScope()).ToArray();
            long largest = _omega.Max(o => o.numel());
            _diffScratch = zeros(largest, _omega[0].dtype, device).DetachFromDisposeScope();
            _weightedScratch = zeros(largest, _omega[0].dtype, device).DetachFromDisposeScope();
        }
        Norms = importance.Norms();
        Weights = LayerWeights(Norms, weighting);
        ReferencePenalty = Reference(adapters, importance, Weights);
        if (relativeStrength is { } rho)
            _relative = new RelativeStrength(rho, ReferencePenalty, "--relative-strength", importancePath);
    }

    /// <summary>P_ref = sum_m w_m sum_i Omega_{m,i} (s B_nu A_nu)_{m,i}^2, in double.</summary>
    static double Reference(IReadOnlyList<AdaptedModule> adapters, ImportanceFile importance, double[] weights)
    {
        double total = 0;
        for (int i = 0; i < adapters.Count; i++)
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var a = adapters[i];
            var dNu = importance.B[a.Path].to(ScalarType.Float64).matmul(importance.A[a.Path].to(ScalarType.Float64)).Times_(a.Layer.Scaling); // [out,in]
            total += weights[i] * importance.Omega[a.Path].to(ScalarType.Float64).mul(dNu.mul(dNu)).sum().item<double>();
        }
        return total;
    }

    public string Name => "alora_penalty";

    /// <summary>w_m from the norms; every variant sums to 1.</summary>
    public static double[] LayerWeights(double[] norms, LayerWeighting weighting)
    {
        int m = norms.Length;
        if (m == 0)
            return [];
        double[] logits = weighting switch
        {
            LayerWeighting.Softmax => norms,
            LayerWeighting.SoftmaxNormalized => norms.Select(n => norms.Average() > 0 ? n / norms.Average() : 0).ToArray(),
            LayerWeighting.SoftmaxLog => norms.Select(n => n > 0 ? Math.Log(n) : double.NegativeInfinity).ToArray(),
            _ => new double[m],
        };
        if (logits.All(double.IsNegativeInfinity))
            return Enumerable.Repeat(1.0 / m, m).ToArray();
        double max = logits.Max();
        var e = logits.Select(l => Math.Exp(l - max)).ToArray(); // stable: the largest term is exp(0) = 1
        double sum = e.Sum();
        return e.Select(x => x / sum).ToArray();
    }

    public static LayerWeighting ParseWeighting(string s) =>
        s.ToLowerInvariant() switch
        {
            "softmax" => LayerWeighting.Softmax,
            "softmax-normalized" => LayerWeighting.SoftmaxNormalized,
            "softmax-log" => LayerWeighting.SoftmaxLog,
            "uniform" => LayerWeighting.Uniform,
            _ => throw new AloraException($"--layer-weights '{s}' is not one of softmax, softmax-normalized, softmax-log, uniform"),
        };

    /// <summary>sum_i Omega_i (D_i - D_nu_i)^2 for one module, with its gradient in A and B (first order: no double backward).</summary>
    public static Tensor ModulePenalty(Tensor a, Tensor b, Tensor aNu, Tensor bNu, Tensor omega, double scaling)
    {
        using var scope = NewDisposeScope();
        Tensor left,
            right,
            diff,
            weighted;
        using (no_grad())
        {
            left = BNuHalf(bNu);
            right = ANuHalf(aNu);
            diff = empty_like(omega); // [out,in]
            weighted = empty_like(omega); // [out,in]
        }
        var (value, surrogate) = Terms(a, b, left, right, omega, scaling, diff, weighted, 1.0);
        return (surrogate - surrogate.detach()).Plus(value).MoveToOuterDisposeScope();
    }

    // [out,2r] = [0, -B_nu] and [2r,in] = [0; A_nu]: the left halves receive B and A at each step
    static Tensor BNuHalf(Tensor bNu) => cat([zeros_like(bNu), -bNu], 1);

    static Tensor ANuHalf(Tensor aNu) => cat([zeros_like(aNu), aNu], 0);

    /// <summary>
    /// weight * sum Omega (D - D_nu)^2 for one module as (value, surrogate). All full-size work runs without
    /// autograd in the given buffers: D - D_nu = s [B, -B_nu] @ [A; A_nu] (one GEMM of inner size 2r, with
    /// B and A copied into the left halves of <paramref name="left"/> and <paramref name="right"/>), then
    /// E = Omega (D - D_nu) and value = &lt;E, D - D_nu&gt;. The gradient, dP/dD = 2E, reaches the factors as
    /// G_B = 2 s E A^T [out,r] and G_A = 2 s B^T E [r,in]; surrogate = &lt;G_A, A&gt; + &lt;G_B, B&gt; is a small
    /// graph whose gradient is exactly (G_A, G_B). The caller adds surrogate - surrogate.detach() to the value.
    /// </summary>
    static (Tensor Value, Tensor Surrogate) Terms(
        Tensor a,
        Tensor b,
        Tensor left,
        Tensor right,
        Tensor omega,
        double scaling,
        Tensor diff,
        Tensor weighted,
        double weight
    )
    {
        long r = a.shape[0];
        Tensor value,
            gA,
            gB;
        using (no_grad())
        {
            left.narrow(1, 0, r).copy_(b);
            right.narrow(0, 0, r).copy_(a);
            diff.addmm_(left, right, beta: 0, alpha: (float)scaling); // [out,in] = D - D_nu
            weighted.copy_(omega).mul_(diff); // [out,in] = E = Omega (D - D_nu)
            value = weighted.flatten().dot(diff.flatten()).Times_(weight); // weight * sum Omega (D - D_nu)^2
            gB = weighted.matmul(a.t()).Times_(2 * scaling * weight); // [out,r] = dP/dB
            gA = b.t().matmul(weighted).Times_(2 * scaling * weight); // [r,in]  = dP/dA
        }
        var surrogate = (gA * a).sum().Plus((gB * b).sum());
        return (value, surrogate);
    }

    public Tensor? Penalty(StepContext ctx)
    {
        double phi = _relative?.At(ctx.TaskLoss) ?? _phi;
        if (phi == 0)
            return null;
        using var scope = NewDisposeScope();
        Tensor? value = null,
            surrogate = null;
        for (int i = 0; i < _adapters.Count; i++)
        {
            if (Weights[i] == 0)
                continue; // an underflowed softmax weight: the term is exactly 0
            var l = _adapters[i].Layer;
            long n = l.OutFeatures * l.InFeatures;
            var (v, g) = Terms(
                l.lora_A.weight,
                l.lora_B.weight,
                _left[i],
                _right[i],
                _omega[i],
                l.Scaling,
                _diffScratch.narrow(0, 0, n).view(l.OutFeatures, l.InFeatures),
                _weightedScratch.narrow(0, 0, n).view(l.OutFeatures, l.InFeatures),
                phi * Weights[i]
            );
            value = value is null ? v : value.Plus_(v);
            surrogate = surrogate is null ? g : surrogate.Plus(g);
        }
        if (value is null || surrogate is null)
            return null;
        return (surrogate - surrogate.detach()).Plus(value).MoveToOuterDisposeScope(); // value: the penalty; gradient: the surrogate's
    }

    public IEnumerable<KeyValuePair<string, Tensor>> State() => _relative?.State("phi") ?? [];

    public void LoadState(IReadOnlyDictionary<string, Tensor> state) => _relative?.LoadState(state, "phi");

    /// <summary>layer_weights.json: per module its norm and weight, so a nearly one-hot softmax is visible.</summary>
    public void WriteArtifacts(string runDir)
    {
        var o = new JsonObject
        {
            ["weighting"] = JsonNamingPolicy.KebabCaseLower.ConvertName(Weighting.ToString()),
            ["phi"] = double.IsNaN(Phi) ? null : Phi,
            ["relative_strength"] = _relative?.Rho,
            ["initial_task_loss"] = _relative?.InitialTaskLoss,
            ["reference_penalty"] = ReferencePenalty,
            ["max_weight"] = Weights.Max(),
            ["modules"] = new JsonArray(
                _adapters
                    .Select(
                        (a, i) =>
                            (JsonNode)
                                new JsonObject
                                {
                                    ["module"] = a.Path,
                                    ["omega_norm"] = Norms[i],
                                    ["weight"] = Weights[i],
                                }
                    )
                    .ToArray()
            ),
        };
        AtomicFile.WriteAllText(
            Path.Combine(runDir, "layer_weights.json"),
            o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n"
        );
    }

    public void Dispose()
    {
        foreach (var t in _omega.Concat(_left).Concat(_right))
            t.Dispose();
        _diffScratch.Dispose();
        _weightedScratch.Dispose();
        _relative?.Dispose();
    }
}
