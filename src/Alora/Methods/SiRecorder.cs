using System.Globalization;
using Alora.Lora;
using Alora.Recipes;
using Alora.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Methods;

public enum SiVariant { Paper, Exact }

/// <summary>
/// Stage nu: Synaptic-Intelligence importance of every element of D = s B A, per adapted module.
/// At each optimizer step t (eta = that step's learning rate):
///   theta' = D(t+1) - D(t) = s [B', -B] @ [A'; A]                  (inner size 2r)
///   paper (eq. 13): g~ = s (g_B A + B g_A - eta g_B g_A) = s [g_B, B, -eta g_B] @ [A; g_A; g_A]   (inner 3r)
///   exact:          g~ = dL/dW of the effective weight, read from the layer's gradient probe
///   omega += -g~ (elementwise) theta'
/// At the end: Delta = D(end) - D(start), Omega = omega / (Delta^2 + xi), clamped at 0 unless told
/// not to (the original SI code clamps; the paper's formula does not), plus a prior stage's Omega (eq. 15).
/// </summary>
public sealed class SiRecorder : ITrainingHook, IRunArtifacts
{
    readonly IReadOnlyList<AdaptedModule> _adapters;
    readonly SiVariant _variant;
    readonly double _xi;
    readonly bool _clamp;
    readonly string _outputPath;
    readonly ScalarType _storeDtype;
    readonly string? _priorPath;
    readonly Tensor[] _omega, _dStart;
    readonly Tensor?[] _aPrev, _bPrev, _gA, _gB;
    readonly Tensor _counters = zeros(3, ScalarType.Int64).DetachFromDisposeScope();
    readonly System.Diagnostics.Stopwatch _clock = new();
    long _steps, _tokens;
    double _secondsBefore;

    public SiRecorder(IReadOnlyList<AdaptedModule> adapters, SiVariant variant, double xi, bool clamp, string outputPath,
        ScalarType storeDtype = ScalarType.Float32, string? priorPath = null)
    {
        if (xi <= 0 || double.IsNaN(xi)) throw new AloraException($"--xi must be positive (got {xi})");
        _adapters = adapters; _variant = variant; _xi = xi; _clamp = clamp; _outputPath = outputPath; _storeDtype = storeDtype; _priorPath = priorPath;
        int n = adapters.Count;
        using var _ = no_grad();
        _omega = adapters.Select(a => zeros(a.Layer.OutFeatures, a.Layer.InFeatures, device: a.Layer.BaseWeight.device).DetachFromDisposeScope()).ToArray();
        _dStart = adapters.Select(a => a.Layer.DeltaWeight().detach().DetachFromDisposeScope()).ToArray();
        _aPrev = new Tensor?[n]; _bPrev = new Tensor?[n]; _gA = new Tensor?[n]; _gB = new Tensor?[n];
        if (variant == SiVariant.Exact) foreach (var a in adapters) a.Layer.EnableGradientProbe();
    }

    public string Name => "si";

    /// <summary>omega of each module so far (read-only views for tests and the benchmark).</summary>
    public IReadOnlyList<Tensor> Omega => _omega;

    /// <summary>
    /// Wall time spent recording (this hook's work per step plus forming Omega), carried across a resume:
    /// the overhead that SI adds to the general stage. Stored as the importance file's metadata record_seconds.
    /// On a GPU it counts launch time only, as the hook does not synchronise.
    /// </summary>
    public double RecordSeconds => _secondsBefore + _clock.Elapsed.TotalSeconds;

    public void OnTaskGradients(StepContext ctx)
    {
        _clock.Start();
        try { Snapshot(); }
        finally { _clock.Stop(); }
    }

    void Snapshot()
    {
        using var _ = no_grad();
        for (int i = 0; i < _adapters.Count; i++)
        {
            var layer = _adapters[i].Layer;
            Replace(ref _aPrev[i], layer.lora_A.weight.detach().clone());
            Replace(ref _bPrev[i], layer.lora_B.weight.detach().clone());
            if (_variant == SiVariant.Paper)
            {
                Replace(ref _gA[i], (layer.lora_A.weight.grad ?? throw new InvalidOperationException("no gradient for lora_A")).clone());
                Replace(ref _gB[i], (layer.lora_B.weight.grad ?? throw new InvalidOperationException("no gradient for lora_B")).clone());
            }
            else if (layer.GradientProbe!.grad is null)
                throw new InvalidOperationException("no gradient reached the probe");
            // exact: the probe's gradient stays untouched by the optimizer; it is read after the step
        }
    }

    public void AfterOptimizerStep(StepContext ctx)
    {
        _clock.Start();
        try { Accumulate(ctx); }
        finally { _clock.Stop(); }
    }

    void Accumulate(StepContext ctx)
    {
        using var _ = no_grad();
        for (int i = 0; i < _adapters.Count; i++)
        {
            using var scope = NewDisposeScope();
            var layer = _adapters[i].Layer;
            double s = layer.Scaling;
            Tensor a1 = layer.lora_A.weight, b1 = layer.lora_B.weight, a0 = _aPrev[i]!, b0 = _bPrev[i]!;
            var thetaPrime = cat([b1, -b0], 1).matmul(cat([a1, a0], 0)).mul_(s);                              // [out,in]
            var g = _variant == SiVariant.Paper
                ? cat([_gB[i]!, b0, _gB[i]! * -ctx.Lr], 1).matmul(cat([a0, _gA[i]!, _gA[i]!], 0)).mul_(s)    // [out,in]
                : layer.GradientProbe!.grad!;
            _omega[i].addcmul_(g, thetaPrime, value: -1);                                                    // omega += -g~ * theta'
            if (_variant == SiVariant.Exact) layer.GradientProbe!.grad!.zero_();
        }
        _steps++;
        _tokens += ctx.Tokens;
    }

    static void Replace(ref Tensor? slot, Tensor value)
    {
        slot?.Dispose();
        slot = value.DetachFromDisposeScope();
    }

    /// <summary>Omega = omega / (Delta^2 + xi) (+ prior), clamped at 0 by default; factors are this stage's end state.</summary>
    public ImportanceFile Finish()
    {
        _clock.Start();
        try { return Build(); }
        finally { _clock.Stop(); }
    }

    ImportanceFile Build()
    {
        using var _ = no_grad();
        ImportanceFile? prior = _priorPath is null ? null : ImportanceFile.Load(_priorPath);
        try
        {
            prior?.Validate(_adapters, _priorPath!);
            var omega = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            var a = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            var b = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            for (int i = 0; i < _adapters.Count; i++)
            {
                using var scope = NewDisposeScope();
                var layer = _adapters[i].Layer;
                var delta = layer.DeltaWeight() - _dStart[i];                                                 // [out,in]
                var big = _omega[i] / (delta.square() + _xi);
                if (_clamp) big = big.clamp_min(0);
                if (prior is not null) big = big + prior.Omega[_adapters[i].Path];
                omega[_adapters[i].Path] = big.MoveToOuterDisposeScope();
                a[_adapters[i].Path] = layer.lora_A.weight.detach().clone().MoveToOuterDisposeScope();
                b[_adapters[i].Path] = layer.lora_B.weight.detach().clone().MoveToOuterDisposeScope();
            }
            int stages = 1 + (prior is null ? 0 : int.Parse(prior.Metadata.GetValueOrDefault("stages", "1"), CultureInfo.InvariantCulture));
            return new ImportanceFile
            {
                Modules = _adapters.Select(x => x.Path).ToList(), Omega = omega, A = a, B = b, Scaling = _adapters[0].Layer.Scaling,
                Metadata = new Dictionary<string, string>
                {
                    ["variant"] = _variant == SiVariant.Paper ? "paper" : "exact",
                    ["xi"] = _xi.ToString("R", CultureInfo.InvariantCulture),
                    ["clamp"] = _clamp ? "true" : "false",
                    ["steps"] = _steps.ToString(CultureInfo.InvariantCulture),
                    ["tokens"] = _tokens.ToString(CultureInfo.InvariantCulture),
                    ["stages"] = stages.ToString(CultureInfo.InvariantCulture),
                    ["rank"] = _adapters[0].Layer.Rank.ToString(CultureInfo.InvariantCulture),
                    ["record_seconds"] = RecordSeconds.ToString("R", CultureInfo.InvariantCulture),
                },
            };
        }
        finally
        {
            prior?.Dispose();
        }
    }

    public void WriteArtifacts(string runDir)
    {
        using var importance = Finish();
        importance.Save(_outputPath, _storeDtype);
    }

    public IEnumerable<KeyValuePair<string, Tensor>> State()
    {
        for (int i = 0; i < _adapters.Count; i++)
        {
            yield return new($"omega.{i}", _omega[i]);
            yield return new($"d_start.{i}", _dStart[i]);
        }
        _counters[0] = _steps;
        _counters[1] = _tokens;
        _counters[2] = (long)Math.Round(RecordSeconds * 1e6);
        yield return new("counters", _counters);
    }

    public void LoadState(IReadOnlyDictionary<string, Tensor> state)
    {
        using var _ = no_grad();
        for (int i = 0; i < _adapters.Count; i++)
        {
            _omega[i].copy_(state[$"omega.{i}"]);
            _dStart[i].copy_(state[$"d_start.{i}"]);
        }
        var c = state["counters"].data<long>().ToArray();
        _steps = c[0]; _tokens = c[1];
        // checkpoints written before record_seconds existed hold two counters
        _secondsBefore = c.Length > 2 ? c[2] / 1e6 : 0;
        _clock.Reset();
    }

    public void Dispose()
    {
        foreach (var t in _omega.Concat(_dStart)) t.Dispose();
        foreach (var t in _aPrev.Concat(_bPrev).Concat(_gA).Concat(_gB)) t?.Dispose();
        _counters.Dispose();
        if (_variant == SiVariant.Exact) foreach (var a in _adapters) a.Layer.DisableGradientProbe();
    }
}
