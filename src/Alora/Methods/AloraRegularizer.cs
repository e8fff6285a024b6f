using System.Text.Json;
using System.Text.Json.Nodes;
using Alora.IO;
using Alora.Lora;
using Alora.Recipes;
using Alora.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Methods;

/// <summary>How the per-module weights w_m are formed from the importance norms n_m = ||Omega_m||_2.</summary>
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
/// with D - D_nu = s [B, -B_nu] @ [A; A_nu] formed as one GEMM of inner size 2r, and w computed once
/// from the importance norms with a numerically stable softmax.
/// </summary>
public sealed class AloraRegularizer : ITrainingHook, IRunArtifacts
{
    readonly IReadOnlyList<AdaptedModule> _adapters;
    readonly Tensor[] _omega, _aNu, _bNu;
    readonly double _phi;

    public double[] Norms { get; }
    public double[] Weights { get; }
    public LayerWeighting Weighting { get; }

    public AloraRegularizer(IReadOnlyList<AdaptedModule> adapters, ImportanceFile importance, string importancePath, double phi, LayerWeighting weighting)
    {
        if (phi < 0 || double.IsNaN(phi)) throw new AloraException($"--phi must be non-negative (got {phi})");
        importance.Validate(adapters, importancePath);
        _adapters = adapters; _phi = phi; Weighting = weighting;
        var device = adapters[0].Layer.BaseWeight.device;
        _omega = adapters.Select(a => importance.Omega[a.Path].to(device).detach().clone().DetachFromDisposeScope()).ToArray();
        _aNu = adapters.Select(a => importance.A[a.Path].to(device).detach().clone().DetachFromDisposeScope()).ToArray();
        _bNu = adapters.Select(a => importance.B[a.Path].to(device).detach().clone().DetachFromDisposeScope()).ToArray();
        Norms = importance.Norms();
        Weights = LayerWeights(Norms, weighting);
    }

    public string Name => "alora_penalty";

    /// <summary>w_m from the norms; every variant sums to 1.</summary>
    public static double[] LayerWeights(double[] norms, LayerWeighting weighting)
    {
        int m = norms.Length;
        if (m == 0) return [];
        double[] logits = weighting switch
        {
            LayerWeighting.Softmax => norms,
            LayerWeighting.SoftmaxNormalized => norms.Select(n => norms.Average() > 0 ? n / norms.Average() : 0).ToArray(),
            LayerWeighting.SoftmaxLog => norms.Select(n => n > 0 ? Math.Log(n) : double.NegativeInfinity).ToArray(),
            _ => new double[m],
        };
        if (logits.All(double.IsNegativeInfinity)) return Enumerable.Repeat(1.0 / m, m).ToArray();
        double max = logits.Max();
        var e = logits.Select(l => Math.Exp(l - max)).ToArray();   // stable: the largest term is exp(0) = 1
        double sum = e.Sum();
        return e.Select(x => x / sum).ToArray();
    }

    public static LayerWeighting ParseWeighting(string s) => s.ToLowerInvariant() switch
    {
        "softmax" => LayerWeighting.Softmax,
        "softmax-normalized" => LayerWeighting.SoftmaxNormalized,
        "softmax-log" => LayerWeighting.SoftmaxLog,
        "uniform" => LayerWeighting.Uniform,
        _ => throw new AloraException($"--layer-weights '{s}' is not one of softmax, softmax-normalized, softmax-log, uniform"),
    };

    /// <summary>sum_i Omega_i (D_i - D_nu_i)^2 for one module, differentiable in A and B.</summary>
    public static Tensor ModulePenalty(Tensor a, Tensor b, Tensor aNu, Tensor bNu, Tensor omega, double scaling)
    {
        using var scope = NewDisposeScope();
        var diff = cat([b, -bNu], 1).matmul(cat([a, aNu], 0)) * scaling;     // [out,in] = D - D_nu
        return (omega * diff.square()).sum().MoveToOuterDisposeScope();
    }

    public Tensor? Penalty(StepContext ctx)
    {
        if (_phi == 0) return null;
        using var scope = NewDisposeScope();
        Tensor total = zeros(1, device: _omega[0].device).squeeze();
        for (int i = 0; i < _adapters.Count; i++)
        {
            if (Weights[i] == 0) continue; // an underflowed softmax weight: the term is exactly 0
            var l = _adapters[i].Layer;
            total = total + ModulePenalty(l.lora_A.weight, l.lora_B.weight, _aNu[i], _bNu[i], _omega[i], l.Scaling) * Weights[i];
        }
        return (total * _phi).MoveToOuterDisposeScope();
    }

    /// <summary>layer_weights.json: per module its norm and weight, so a nearly one-hot softmax is visible.</summary>
    public void WriteArtifacts(string runDir)
    {
        var o = new JsonObject
        {
            ["weighting"] = JsonNamingPolicy.KebabCaseLower.ConvertName(Weighting.ToString()),
            ["phi"] = _phi,
            ["max_weight"] = Weights.Max(),
            ["modules"] = new JsonArray(_adapters.Select((a, i) => (JsonNode)new JsonObject
            {
                ["module"] = a.Path, ["omega_norm"] = Norms[i], ["weight"] = Weights[i],
            }).ToArray()),
        };
        AtomicFile.WriteAllText(Path.Combine(runDir, "layer_weights.json"), o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    public void Dispose()
    {
        foreach (var t in _omega.Concat(_aNu).Concat(_bNu)) t.Dispose();
    }
}
