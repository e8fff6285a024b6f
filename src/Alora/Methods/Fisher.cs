using System.Diagnostics;
using Alora.Data;
using Alora.Eval;
using Alora.Lora;
using Alora.Models;
using Alora.Runtime;
using Alora.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Alora.Methods;

/// <summary>Settings of a Fisher pass; the CLI options of <c>alora fisher</c> have these names in kebab-case.</summary>
public sealed record FisherOptions
{
    /// <summary>Sequences used, one per gradient (fewer when the data has fewer).</summary>
    public int Samples { get; init; } = 256;

    /// <summary>Tokens per sequence (general text is packed into sequences of this length).</summary>
    public int MaxLength { get; init; } = 256;

    /// <summary>Seed of which sequences are drawn.</summary>
    public long Seed { get; init; } = 42;
    public IReadOnlyList<string> TargetModules { get; init; } = ["q_proj", "v_proj"];

    /// <summary>
    /// The Fisher at W0 + D of the model's LoRA adapters (ewc-nu's F_nu at the end of stage nu), not at W0: an
    /// adapted module may then carry a trained adapter. Off, it must still be zero (the base model's Fisher).
    /// </summary>
    public bool AtAdapters { get; init; }

    public void Validate()
    {
        if (Samples < 1)
            throw new AloraException($"--samples must be at least 1 (got {Samples})");
        if (MaxLength < 2)
            throw new AloraException($"--max-length must be at least 2 (got {MaxLength})");
        if (TargetModules.Count == 0)
            throw new AloraException("--target-modules is empty");
    }
}

/// <summary>What a Fisher pass written to a file reports.</summary>
public sealed record FisherReport(string Path, int Samples, long Tokens, double Seconds, long Bytes, double Mean, IReadOnlyList<string> Modules);

/// <summary>
/// EWC's diagonal Fisher of the base model's target weights W0 (Xiang et al. 2024): for each target
/// module m, F_m = (1/N) sum_n (dL_n/dW0_m)^2 elementwise, where L_n is the mean next-token
/// cross-entropy of sample n alone (batch 1: one sample per gradient, never a batch's mean gradient).
/// </summary>
public static class FisherEstimator
{
    /// <summary>
    /// Runs the pass on <paramref name="model"/> (the base model, or one whose LoRA adapters still have
    /// B = 0: the gradient w.r.t. W0 is the same). With <see cref="FisherOptions.AtAdapters"/> the adapters may be
    /// trained and the result is the Fisher at W = W0 + D (see <see cref="FromLora"/>). The model's parameters and
    /// mode are restored after.
    /// </summary>
    public static DiagonalFisher Estimate(
        CausalLM model,
        IReadOnlyList<TrainingExample> data,
        FisherOptions o,
        IProgress<EvalProgress>? progress = null,
        CancellationToken cancel = default
    )
    {
        o.Validate();
        var targets = Targets(model, o.TargetModules, o.AtAdapters);
        var usable = data.Where(d => d.TargetCount > 0).ToList();
        if (usable.Count == 0)
            throw new AloraException("the Fisher data has no sequence with a target token");
        var perm = BatchSchedule.Permutation(usable.Count, o.Seed, 0);
        var samples = perm.Take(Math.Min(o.Samples, usable.Count)).Select(i => usable[i]).ToList();

        var device = targets[0].Weight.device;
        var frozen = model.parameters().Select(p => (p, p.requires_grad)).ToList();
        bool wasTraining = model.training;
        var sums = targets.Select(t => zeros(t.Shape, ScalarType.Float32, device).DetachFromDisposeScope()).ToList(); // each [out,in]
        var clock = Stopwatch.StartNew();
        long tokens = 0;
        try
        {
            foreach (var (p, _) in frozen)
                p.requires_grad = false;
            foreach (var t in targets)
                t.Weight.requires_grad = true;
            model.eval(); // no dropout: the Fisher of the deterministic model
            using var grad = enable_grad();
            for (int n = 0; n < samples.Count; n++)
            {
                cancel.ThrowIfCancellationRequested();
                tokens += samples[n].TargetCount;
                AccumulateSquaredGradient(model, samples[n], targets, sums, device);
                progress?.Report(new EvalProgress(n + 1, samples.Count, "samples"));
            }
            using (no_grad())
                foreach (var s in sums)
                    s.DividedBy_(samples.Count); // F = sum / N
        }
        catch
        {
            foreach (var s in sums)
                s.Dispose();
            throw;
        }
        finally
        {
            foreach (var (p, req) in frozen)
                p.requires_grad = req;
            if (wasTraining)
                model.train();
        }
        var (hidden, layers) = Dimensions(model.Config);
        var values = targets.Select((t, i) => (t.Path, sums[i])).ToDictionary(x => x.Path, x => x.Item2, StringComparer.Ordinal);
        return new DiagonalFisher(
            values,
            new FisherInfo
            {
                Samples = samples.Count,
                MaxLength = o.MaxLength,
                Seed = o.Seed,
                Tokens = tokens,
                Seconds = clock.Elapsed.TotalSeconds,
                TargetModules = o.TargetModules,
                Architecture = model.Architecture,
                HiddenSize = hidden,
                NumHiddenLayers = layers,
            }
        );
    }

    /// <summary>
    /// One sample's gradient g = dL_n/dW0 for every target, then sums += g^2. The body runs once; the
    /// output projection and loss run on row chunks of the detached hidden states (never [T, V] at once),
    /// and the hidden states' gradient is sent back through the body to W0 with autograd.grad.
    /// </summary>
    static void AccumulateSquaredGradient(CausalLM model, TrainingExample ex, List<Target> targets, List<Tensor> sums, Device device)
    {
        using var scope = NewDisposeScope();
        int len = ex.Ids.Length;
        var labelIds = new long[len];
        for (int j = 0; j < len; j++)
            labelIds[j] = j + 1 < len && ex.Targets[j + 1] ? ex.Ids[j + 1] : -100; // shifted labels
        var input = tensor(ex.Ids.Select(t => (long)t).ToArray(), [1, len], device: device); // [1,T]
        var labels = tensor(labelIds, [len], device: device); // [T]
        var hidden = model.Hidden(input); // [1,T,C]
        var detached = hidden.detach().requires_grad_(true);
        var flat = detached.view(len, hidden.shape[2]); // [T,C]
        double count = ex.TargetCount;
        for (long r = 0; r < len; r += model.HeadChunkRows)
        {
            using var chunk = NewDisposeScope();
            long n = Math.Min(model.HeadChunkRows, len - r);
            var logits = model.Head(flat.narrow(0, r, n)); // [n,V]
            var ce = nn.functional.cross_entropy(logits, labels.narrow(0, r, n), ignore_index: -100, reduction: nn.Reduction.Sum);
            ce.DividedBy(count).backward(); // L_n = mean CE over targets
        }
        var grads = autograd.grad([hidden], targets.Select(t => (Tensor)t.Weight).ToList(), [detached.grad!]); // each W0's layout
        using var _ = no_grad();
        for (int i = 0; i < targets.Count; i++)
        {
            var g = grads[i].to_type(ScalarType.Float32);
            if (targets[i].Transposed)
                g = g.t(); // Conv1D (in,out) -> [out,in]
            sums[i].Addcmul_(g, g, 1); // sums += g^2
        }
    }

    /// <summary>A target module's path, its W0 parameter, and whether W0 is stored (in x out) as Conv1D.</summary>
    sealed record Target(string Path, Parameter Weight, bool Transposed)
    {
        public long[] Shape => Transposed ? [Weight.shape[1], Weight.shape[0]] : Weight.shape;
    }

    static List<Target> Targets(CausalLM model, IReadOnlyList<string> names, bool atAdapters)
    {
        var wanted = names.ToHashSet(StringComparer.Ordinal);
        var found = new List<Target>();
        foreach (var (path, module) in model.named_modules())
        {
            if (path.Length == 0 || !wanted.Contains(path[(path.LastIndexOf('.') + 1)..]))
                continue;
            found.Add(
                module switch
                {
                    Models.Linear l => new Target(path, l.weight, false),
                    Conv1D c => new Target(path, c.weight, true),
                    LoraLinear lora => FromLora(path, lora, atAdapters),
                    _ => throw new AloraException($"target module at {path} is a {module.GetType().Name}, not a linear layer"),
                }
            );
        }
        var missing = names.Where(n => !found.Any(f => f.Path.EndsWith("." + n, StringComparison.Ordinal) || f.Path == n)).ToList();
        if (missing.Count > 0)
            throw new AloraException(
                $"target module(s) {string.Join(", ", missing)} not found in {model.Architecture}; its linear layers are: {string.Join(", ", LoraInjector.LinearNames(model))}"
            );
        return found;
    }

    /// <summary>
    /// An adapted module's gradient is taken w.r.t. its frozen base weight. Without <paramref name="atAdapters"/> it
    /// qualifies only while its adapter is still zero (B = 0, not merged): then W0 is the weight in use.
    /// With it, the adapter may be trained: unmerged and in eval mode (no dropout on the branch) the layer computes
    /// y = x W0^T + s (x A^T) B^T + b = x (W0 + D)^T + b with D = s B A, so with g_t = dL/dy_t,
    /// dL/dW0 = sum_t g_t x_t^T = dL/dW at W = W0 + D: the gradient w.r.t. W0 is the effective weight's gradient at
    /// W0 + D (merged, W0 already holds W0 + D and the branch is skipped: the same). In a bfloat16/float16 model the
    /// branch is added in float32 and the sum rounded, so the equality holds up to that rounding.
    /// </summary>
    static Target FromLora(string path, LoraLinear lora, bool atAdapters)
    {
        if (atAdapters)
            return new Target(path, lora.BaseWeight, lora.FanInFanOut);
        using var _ = no_grad();
        if (lora.Merged || lora.lora_B.weight.abs().max().item<float>() != 0)
            throw new AloraException($"{path} carries a trained LoRA adapter: the Fisher is defined on the base model (load it without --adapter)");
        return new Target(path, lora.BaseWeight, lora.FanInFanOut);
    }

    /// <summary>Hidden size and layer count from any supported config (for validating a Fisher file against a model).</summary>
    public static (int Hidden, int Layers) Dimensions(HfConfig c) =>
        c switch
        {
            LlamaConfig l => (l.HiddenSize, l.NumHiddenLayers),
            GptJConfig j => (j.NEmbd, j.NLayer),
            Gpt2Config g => (g.NEmbd, g.NLayer),
            _ => (0, 0),
        };

    /// <summary>
    /// The whole pass from files: load the model, read the general data as training does (text packed
    /// into sequences of <see cref="FisherOptions.MaxLength"/> tokens), estimate, and write the file atomically.
    /// </summary>
    public static FisherReport EstimateToFile(
        string modelDir,
        string dataPath,
        string outPath,
        FisherOptions o,
        Device? device = null,
        ScalarType dtype = ScalarType.Float32,
        IProgress<EvalProgress>? progress = null,
        CancellationToken cancel = default
    )
    {
        o.Validate();
        if (!outPath.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            throw new AloraException($"--out {outPath}: the Fisher is written as safetensors; name the file *.safetensors");
        using var model = ModelLoader.Load(modelDir, device, dtype);
        var data = TrainingFiles.Load(dataPath, null, modelDir, o.MaxLength);
        if (data.Any(d => d.Ids.Any(t => t < 0 || t >= model.VocabSize)))
            throw new AloraException($"{dataPath}: a token id lies outside the model's vocabulary [0, {model.VocabSize})");
        using var fisher = Estimate(model, data, o, progress, cancel);
        long bytes = fisher.Save(outPath);
        return new FisherReport(
            Path.GetFullPath(outPath),
            fisher.Info.Samples,
            fisher.Info.Tokens,
            fisher.Info.Seconds,
            bytes,
            fisher.Mean(),
            [.. fisher.Values.Keys]
        );
    }
}
