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

    public string Name => "ewc_penalty";
    public double Lambda { get; }

    /// <summary>Whether the penalty is anchored at the adapters' D when it was made (ewc-nu), not at W0 (ewc-lora).</summary>
    public bool Anchored { get; }

    /// <summary>
    /// Checks the Fisher against the adapters (every adapted module present, shape [out, in], finite, not
    /// negative) and keeps its own handle on each F, in float64 when the adapters are float64, else float32.
    /// With <paramref name="anchorAtCurrentDelta"/>, also keeps a detached copy of each adapter's D = s B A as it is
    /// now (D_nu) and penalises D - D_nu.
    /// </summary>
    public EwcRegularizer(DiagonalFisher fisher, IReadOnlyList<AdaptedModule> adapters, double lambda, bool anchorAtCurrentDelta = false)
    {
        var src = fisher.Source ?? "the Fisher";
        if (!double.IsFinite(lambda) || lambda < 0)
            throw new AloraException($"--ewc-lambda must be a finite number >= 0 (got {lambda})");
        if (adapters.Count == 0)
            throw new AloraException("EWC-LoRA needs at least one adapted module");
        Lambda = lambda;
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
    }

    /// <summary>Reads a Fisher file and checks it against the model and the adapters (see the constructor).</summary>
    public static EwcRegularizer FromFile(
        string path,
        CausalLM model,
        IReadOnlyList<AdaptedModule> adapters,
        double lambda,
        bool anchorAtCurrentDelta = false
    )
    {
        ArgumentNullException.ThrowIfNull(adapters);
        if (!File.Exists(path))
            throw new AloraException($"{path}: Fisher file not found (--fisher)");
        using var fisher = DiagonalFisher.Load(path, adapters.Count > 0 ? adapters[0].Layer.lora_A.weight.device : null);
        CheckModel(fisher, model);
        return new EwcRegularizer(fisher, adapters, lambda, anchorAtCurrentDelta);
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
            ["lambda"] = Lambda,
            ["fisher"] = _source,
            ["fisher_bytes"] = _source is not null && File.Exists(_source) ? new FileInfo(_source).Length : null,
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

    public void Dispose()
    {
        foreach (var (_, f, anchor) in _terms)
        {
            f.Dispose();
            anchor?.Dispose();
        }
        _terms.Clear();
    }
}
