using System.Globalization;
using System.Text.Json.Serialization;
using Alora.Lora;
using Alora.Runtime;
using Alora.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Methods;

/// <summary>Which path integral stage nu records (option si-variant).</summary>
[JsonConverter(typeof(NamedEnumConverter<SiVariant>))]
public enum SiVariant
{
    /// <summary>g~ of eq. 13, from the factors' gradients (no extra backward work).</summary>
    Paper,

    /// <summary>g~ = dL/dW of the effective weight, read from the layer's gradient probe.</summary>
    Exact,
}

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
    readonly Tensor[] _omega,
        _dStart;

    // Per module, filled in place every step (no fresh buffers): left2 [out,2r] = [B(t+1), -B(t)],
    // right2 [2r,in] = [A(t+1); A(t)]; paper only: left3 [out,3r] = [g_B, B, -eta g_B], right3 [3r,in] = [A; g_A; g_A].
    readonly Tensor[] _left2,
        _right2;
    readonly Tensor?[] _left3,
        _right3;

    // Full-size products theta' and g~ of one module at a time: flat buffers of the largest out*in, shared by the modules.
    readonly Tensor _thetaScratch;
    readonly Tensor? _gScratch;
    readonly Tensor _counters = zeros(3, ScalarType.Int64).DetachFromDisposeScope();
    readonly System.Diagnostics.Stopwatch _clock = new();
    long _steps,
        _tokens;
    double _secondsBefore;

    public SiRecorder(
        IReadOnlyList<AdaptedModule> adapters,
        SiVariant variant,
        double xi,
        bool clamp,
        string outputPath,
        ScalarType storeDtype = ScalarType.Float32,
        string? priorPath = null
    )
    {
        if (xi <= 0 || double.IsNaN(xi))
            throw new AloraException($"--xi must be positive (got {xi})");
        _adapters = adapters;
        _variant = variant;
        _xi = xi;
        _clamp = clamp;
        _outputPath = outputPath;
        _storeDtype = storeDtype;
        _priorPath = priorPath;
        using var _ = no_grad();
        _omega = adapters
            .Select(a => zeros(a.Layer.OutFeatures, a.Layer.InFeatures, device: a.Layer.BaseWeight.device).DetachFromDisposeScope())
            .ToArray();
        using (NewDisposeScope())
            _dStart = adapters.Select(a => a.Layer.DeltaWeight().detach().DetachFromDisposeScope()).ToArray();
        Tensor Buffer(LoraLinear l, long rows, long cols) =>
            zeros(rows, cols, l.lora_A.weight.dtype, l.lora_A.weight.device).DetachFromDisposeScope();
        _left2 = adapters.Select(a => Buffer(a.Layer, a.Layer.OutFeatures, 2 * a.Layer.Rank)).ToArray();
        _right2 = adapters.Select(a => Buffer(a.Layer, 2 * a.Layer.Rank, a.Layer.InFeatures)).ToArray();
        _left3 = adapters.Select(a => variant == SiVariant.Paper ? Buffer(a.Layer, a.Layer.OutFeatures, 3 * a.Layer.Rank) : null).ToArray();
        _right3 = adapters.Select(a => variant == SiVariant.Paper ? Buffer(a.Layer, 3 * a.Layer.Rank, a.Layer.InFeatures) : null).ToArray();
        long largest = adapters.Count == 0 ? 0 : adapters.Max(a => a.Layer.OutFeatures * a.Layer.InFeatures);
        var first = adapters.Count == 0 ? null : adapters[0].Layer;
        _thetaScratch = zeros(largest, first?.lora_A.weight.dtype ?? ScalarType.Float32, first?.lora_A.weight.device).DetachFromDisposeScope();
        _gScratch =
            variant == SiVariant.Paper
                ? zeros(largest, first?.lora_A.weight.dtype ?? ScalarType.Float32, first?.lora_A.weight.device).DetachFromDisposeScope()
                : null;
        if (variant == SiVariant.Exact)
            foreach (var a in adapters)
                a.Layer.EnableGradientProbe();
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
        try
        {
            Snapshot(ctx);
        }
        finally
        {
            _clock.Stop();
        }
    }

    public void AfterOptimizerStep(StepContext ctx)
    {
        _clock.Start();
        try
        {
            Accumulate(ctx);
        }
        finally
        {
            _clock.Stop();
        }
    }

    /// <summary>Omega = omega / (Delta^2 + xi) (+ prior), clamped at 0 by default; factors are this stage's end state.</summary>
    public ImportanceFile Finish()
    {
        _clock.Start();
        try
        {
            return Build();
        }
        finally
        {
            _clock.Stop();
        }
    }

    /// <summary>Keeps what the step's products need from step t: A, B and (paper) eta, g_A, g_B, in the preallocated factor buffers.</summary>
    void Snapshot(StepContext ctx)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        for (int i = 0; i < _adapters.Count; i++)
        {
            var layer = _adapters[i].Layer;
            int r = layer.Rank;
            Tensor a = layer.lora_A.weight,
                b = layer.lora_B.weight;
            _right2[i].narrow(0, r, r).copy_(a); // [A'; A]
            _left2[i].narrow(1, r, r).copy_(b).neg_(); // [B', -B]
            if (_variant == SiVariant.Paper)
            {
                var gA = layer.lora_A.weight.grad ?? throw new InvalidOperationException("no gradient for lora_A");
                var gB = layer.lora_B.weight.grad ?? throw new InvalidOperationException("no gradient for lora_B");
                Tensor l3 = _left3[i]!,
                    r3 = _right3[i]!;
                l3.narrow(1, 0, r).copy_(gB); // [g_B, B, -eta g_B]
                l3.narrow(1, r, r).copy_(b);
                l3.narrow(1, 2 * r, r).copy_(gB).Times_(-ctx.Lr);
                r3.narrow(0, 0, r).copy_(a); // [A; g_A; g_A]
                r3.narrow(0, r, r).copy_(gA);
                r3.narrow(0, 2 * r, r).copy_(gA);
            }
            else if (layer.GradientProbe!.grad is null)
                throw new InvalidOperationException("no gradient reached the probe");
            // exact: the probe's gradient stays untouched by the optimizer; it is read after the step
        }
    }

    /// <summary>omega += -g~ * theta', each full-size product one GEMM into a shared scratch buffer.</summary>
    void Accumulate(StepContext ctx)
    {
        using var _ = no_grad();
        for (int i = 0; i < _adapters.Count; i++)
        {
            using var scope = NewDisposeScope();
            var layer = _adapters[i].Layer;
            int r = layer.Rank;
            float s = (float)layer.Scaling;
            long rows = layer.OutFeatures,
                cols = layer.InFeatures;
            _left2[i].narrow(1, 0, r).copy_(layer.lora_B.weight);
            _right2[i].narrow(0, 0, r).copy_(layer.lora_A.weight);
            var thetaPrime = _thetaScratch.narrow(0, 0, rows * cols).view(rows, cols).addmm_(_left2[i], _right2[i], beta: 0, alpha: s); // [out,in] = s [B', -B] @ [A'; A]
            var g =
                _variant == SiVariant.Paper
                    ? _gScratch!.narrow(0, 0, rows * cols).view(rows, cols).addmm_(_left3[i]!, _right3[i]!, beta: 0, alpha: s) // [out,in] = s [g_B, B, -eta g_B] @ [A; g_A; g_A]
                    : layer.GradientProbe!.grad!;
            _omega[i].Addcmul_(g, thetaPrime, -1); // omega += -g~ * theta'
            if (_variant == SiVariant.Exact)
                g.zero_();
        }
        _steps++;
        _tokens += ctx.Tokens;
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
                var delta = layer.DeltaWeight() - _dStart[i]; // [out,in]
                var big = _omega[i] / delta.Squared().Plus(_xi);
                if (_clamp)
                    big = big.ClampMin(0);
                if (prior is not null)
                    big = big.Plus(prior.Omega[_adapters[i].Path]);
                omega[_adapters[i].Path] = big.MoveToOuterDisposeScope();
                a[_adapters[i].Path] = layer.lora_A.weight.detach().clone().MoveToOuterDisposeScope();
                b[_adapters[i].Path] = layer.lora_B.weight.detach().clone().MoveToOuterDisposeScope();
            }
            int stages = 1 + (prior is null ? 0 : int.Parse(prior.Metadata.GetValueOrDefault("stages", "1"), CultureInfo.InvariantCulture));
            return new ImportanceFile
            {
                Modules = _adapters.Select(x => x.Path).ToList(),
                Omega = omega,
                A = a,
                B = b,
                Scaling = _adapters[0].Layer.Scaling,
                Metadata = new Dictionary<string, string>
                {
                    ["variant"] = EnumNames<SiVariant>.Name(_variant),
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
        _steps = c[0];
        _tokens = c[1];
        // checkpoints written before record_seconds existed hold two counters
        _secondsBefore = c.Length > 2 ? c[2] / 1e6 : 0;
        _clock.Reset();
    }

    public void Dispose()
    {
        foreach (var t in _omega.Concat(_dStart))
            t.Dispose();
        foreach (var t in _left2.Concat(_right2))
            t.Dispose();
        foreach (var t in _left3.Concat(_right3))
            t?.Dispose();
        _thetaScratch.Dispose();
        _gScratch?.Dispose();
        _counters.Dispose();
        if (_variant == SiVariant.Exact)
            foreach (var a in _adapters)
                a.Layer.DisableGradientProbe();
    }
}
