using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Alora.IO;
using Alora.Lora;
using Alora.Models;
using Alora.Runtime;
using Alora.Training;
using static TorchSharp.torch;

namespace Alora.Methods;

/// <summary>
/// EWC-LoRA (Xiang et al. 2024): penalty = lambda * sum_m sum_i F_{m,i} * D_{m,i}^2 with D_m = s B_m A_m,
/// the change of module m's effective weight, i.e. EWC anchored at the base weights W0 (D = 0).
/// Its gradient is dP/dD = 2 lambda F (*) D, hence dP/dA = s B^T (2 lambda F (*) D) and
/// dP/dB = s (2 lambda F (*) D) A^T (autograd forms them). Owns its handles on F (on the adapters' device, out of any dispose scope).
/// <para>Anchored (ewc-nu), D_nu = s B A of the adapters when it is made (the start of stage mu) is kept per module,
/// detached, and the penalty is lambda * sum_m sum_i F_{m,i} (D_{m,i} - D_nu_{m,i})^2, gradient 2 lambda F (*) (D - D_nu):
/// ALoRA's anchor with a Fisher in place of SI's Omega.</para>
/// </summary>
public sealed class EwcRegularizer : ITrainingHook, IRunArtifacts
{
    // per module: its Fisher and, anchored, D_nu (both [out,in], F's dtype, owned here); Anchor is null at W0
    readonly List<(AdaptedModule Module, Tensor F, Tensor? Anchor)> _terms = [];
    readonly FisherInfo? _info;
    readonly string? _source;
    double _lastPenalty = double.NaN;
    readonly double _lambda;
    readonly RelativeStrength? _relative;

    public string Name => "ewc_penalty";

    /// <summary>The strength in use: the given lambda, or the one a relative strength gave (NaN until the first step).</summary>
    public double Lambda => _relative?.Value ?? _lambda;

    /// <summary>P_ref of a relative strength (anchored only): sum_m sum_i F_{m,i} D_nu_{m,i}^2, the penalty at lambda 1 of
    /// a move as far as the general stage's (from B = 0 to D_nu).</summary>
    public double? ReferencePenalty { get; }

    /// <summary>Whether the penalty is anchored at the adapters' D when it was made (ewc-nu), not at W0 (ewc-lora).</summary>
    public bool Anchored { get; }

    /// <summary>
    /// Checks the Fisher against the adapters (every adapted module present, shape [out, in], finite, not
    /// negative) and keeps its own handle on each F, in float64 when the adapters are float64, else float32.
    /// With <paramref name="anchorAtCurrentDelta"/>, also keeps a detached copy of each adapter's D = s B A as it is
    /// now (D_nu) and penalises D - D_nu; then <paramref name="relativeStrength"/> rho may set lambda = rho * CE_0 / P_ref
    /// at the first step (<see cref="RelativeStrength"/>).
    /// </summary>
    public EwcRegularizer(
        DiagonalFisher fisher,
        IReadOnlyList<AdaptedModule> adapters,
        double lambda,
        bool anchorAtCurrentDelta = false,
        double? relativeStrength = null
    )
    {
        var src = fisher.Source ?? "the Fisher";
        if (!double.IsFinite(lambda) || lambda < 0)
            throw new AloraException($"--ewc-lambda must be a finite number >= 0 (got {lambda})");
        if (adapters.Count == 0)
            throw new AloraException("EWC-LoRA needs at least one adapted module");
        if (relativeStrength is not null && !anchorAtCurrentDelta)
            throw new AloraException(
                "--relative-strength needs the anchored EWC (--method ewc-nu): at W0 there is no general-stage move to measure it against"
            );
        _lambda = lambda;
        Anchored = anchorAtCurrentDelta;
        _info = fisher.Info;
        _source = fisher.Source;
        try
        {
            foreach (var a in adapters)
            {
                if (!fisher.Values.TryGetValue(a.Path, out var f))
                    throw new AloraException(
                        $"{src}: no Fisher for module {a.Path} (the file has {Names(fisher.Values.Keys)}): "
                            + "compute it with the --target-modules the adapter uses"
                    );
                long[] want = [a.Layer.OutFeatures, a.Layer.InFeatures];
                if (!f.shape.SequenceEqual(want))
                    throw new AloraException(
                        $"{src}: module {a.Path} has a Fisher of shape {SafeTensorsFile.Fmt(f.shape)} but the model's weight is {SafeTensorsFile.Fmt(want)} (out x in): the file was computed for another model"
                    );
                using (NewDisposeScope())
                {
                    if (!isfinite(f).all().item<bool>())
                        throw new AloraException($"{src}: module {a.Path}: the Fisher contains NaN or Inf");
                    if (f.LessThan(0).any().item<bool>())
                        throw new AloraException($"{src}: module {a.Path}: the Fisher has negative values (it is a mean of squares)");
                }
                var weight = a.Layer.lora_A.weight;
                var dtype = weight.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
                var mine = f.to(dtype, weight.device); // a copy when dtype or device differ
                if (ReferenceEquals(mine, f))
                    mine = f.detach(); // else our own handle on the same storage
                _terms.Add((a, mine.DetachFromDisposeScope(), null));
                if (anchorAtCurrentDelta)
                    using (NewDisposeScope())
                    using (no_grad())
                    {
                        var anchor = a.Layer.DeltaWeight().to_type(dtype).detach().clone(); // D_nu [out,in], its own storage
                        _terms[^1] = (a, _terms[^1].F, anchor.DetachFromDisposeScope());
                    }
            }
        }
        catch
        {
            Dispose();
            throw;
        }
        if (relativeStrength is { } rho)
        {
            ReferencePenalty = Reference();
            _relative = new RelativeStrength(rho, ReferencePenalty.Value, "--relative-strength", src);
        }
    }

    /// <summary>sum_m sum_i F_{m,i} D_nu_{m,i}^2 in double.</summary>
    double Reference()
    {
        using var scope = NewDisposeScope();
        return _terms.Sum(t =>
            (t.F.to_type(ScalarType.Float64) * t.Anchor!.to_type(ScalarType.Float64) * t.Anchor!.to_type(ScalarType.Float64)).sum().item<double>()
        );
    }

    /// <summary>Reads a Fisher file and checks it against the model and the adapters (see the constructor).</summary>
    public static EwcRegularizer FromFile(
        string path,
        CausalLM model,
        IReadOnlyList<AdaptedModule> adapters,
        double lambda,
        bool anchorAtCurrentDelta = false,
        double? relativeStrength = null
    )
    {
        ArgumentNullException.ThrowIfNull(adapters);
        if (!File.Exists(path))
            throw new AloraException($"{path}: Fisher file not found (--fisher)");
        using var fisher = DiagonalFisher.Load(path, adapters.Count > 0 ? adapters[0].Layer.lora_A.weight.device : null);
        CheckModel(fisher, model);
        return new EwcRegularizer(fisher, adapters, lambda, anchorAtCurrentDelta, relativeStrength);
    }

    /// <summary>The file's architecture, hidden size and layer count (when recorded) must be the model's.</summary>
    public static void CheckModel(DiagonalFisher fisher, CausalLM model)
    {
        var i = fisher.Info;
        var (hidden, layers) = FisherEstimator.Dimensions(model.Config);
        bool archDiffers = i.Architecture.Length > 0 && i.Architecture != model.Architecture;
        bool dimsDiffer = (i.HiddenSize > 0 && i.HiddenSize != hidden) || (i.NumHiddenLayers > 0 && i.NumHiddenLayers != layers);
        if (archDiffers || dimsDiffer)
            throw new AloraException(
                $"{fisher.Source ?? "the Fisher"}: computed for {i.Architecture} (hidden size {i.HiddenSize}, {i.NumHiddenLayers} layers) "
                    + $"but the model is {model.Architecture} (hidden size {hidden}, {layers} layers): compute the Fisher on this model"
            );
    }

    /// <summary>lambda * sum_m sum_i F_{m,i} D_{m,i}^2 (anchored: (D - D_nu)^2), a differentiable scalar.</summary>
    public Tensor Compute()
    {
        using var scope = NewDisposeScope();
        Tensor? total = null;
        foreach (var (m, f, anchor) in _terms)
        {
            var d = m.Layer.DeltaWeight().to_type(f.dtype); // [out,in] = s * [out,r] @ [r,in]
            if (anchor is not null)
                d = d - anchor; // D - D_nu [out,in]
            var term = (f * d).view(-1).dot(d.view(-1)); // sum_i F_i D_i^2
            total = total is null ? term : total.Plus(term);
        }
        return total!.Times(Lambda).MoveToOuterDisposeScope();
    }

    public Tensor? Penalty(StepContext ctx)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        _relative?.At(ctx.TaskLoss); // the first step sets lambda from its cross-entropy
        var p = Compute();
        _lastPenalty = p.to_type(ScalarType.Float64).item<double>();
        return p;
    }

    /// <summary>Mean Fisher value per module (the scale that lambda multiplies).</summary>
    public IReadOnlyDictionary<string, double> FisherMeans()
    {
        using var scope = NewDisposeScope();
        return _terms.ToDictionary(t => t.Module.Path, t => t.F.mean().to_type(ScalarType.Float64).item<double>());
    }

    /// <summary>ewc.json: lambda, the Fisher file and how it was made, its mean per module, the last penalty.</summary>
    public void WriteArtifacts(string runDir)
    {
        var means = FisherMeans();
        var j = new JsonObject
        {
            ["method"] = Anchored ? "ewc-nu" : "ewc-lora",
            ["anchor"] = Anchored ? "D_nu (the continued adapter at the start of stage mu)" : "W0",
            ["lambda"] = double.IsNaN(Lambda) ? null : Lambda,
            ["relative_strength"] = _relative?.Rho,
            ["initial_task_loss"] = _relative?.InitialTaskLoss,
            ["reference_penalty"] = ReferencePenalty,
            ["fisher"] = _source,
            ["fisher_bytes"] = _source is not null && File.Exists(_source) ? FileSize.Of(_source) : null,
            ["fisher_samples"] = _info?.Samples,
            ["fisher_max_length"] = _info?.MaxLength,
            ["fisher_seconds"] = _info?.Seconds,
            ["fisher_mean"] = _terms.Sum(t => means[t.Module.Path] * t.F.numel()) / _terms.Sum(t => t.F.numel()),
            ["fisher_mean_per_module"] = new JsonObject(means.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))),
            ["last_penalty"] = double.IsFinite(_lastPenalty) ? _lastPenalty : null,
        };
        AtomicFile.WriteAllText(Path.Combine(runDir, "ewc.json"), j.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    static string Names(IEnumerable<string> keys)
    {
        var list = keys.Order(StringComparer.Ordinal).ToList();
        return list.Count == 0
            ? "no tensors"
            : string.Join(", ", list.Take(6)) + (list.Count > 6 ? string.Create(CultureInfo.InvariantCulture, $", ... ({list.Count} in all)") : "");
    }

    public IEnumerable<KeyValuePair<string, Tensor>> State() => _relative?.State("lambda") ?? [];

    public void LoadState(IReadOnlyDictionary<string, Tensor> state) => _relative?.LoadState(state, "lambda");

    public void Dispose()
    {
        _relative?.Dispose();
        foreach (var (_, f, anchor) in _terms)
        {
            f.Dispose();
            anchor?.Dispose();
        }
        _terms.Clear();
    }
}
