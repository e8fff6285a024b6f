using Alora.Data;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Alora.Lora;
using Alora.Methods;
using Alora.Models;
using Alora.Runtime;
using Alora.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Bench;

/// <summary>Shape and schedule of <see cref="ImportanceBench"/>; the CLI options of <c>alora bench importance</c> have these names.</summary>
public sealed record ImportanceBenchOptions
{
    public int Vocab { get; init; } = 8192;
    public int Hidden { get; init; } = 256;
    public int Layers { get; init; } = 4;
    public int Heads { get; init; } = 8;
    public int KvHeads { get; init; } = 4;
    public int Intermediate { get; init; } = 688;
    /// <summary>Tokens per sequence.</summary>
    public int Seq { get; init; } = 256;
    /// <summary>Sequences per optimizer step (one micro-batch).</summary>
    public int Batch { get; init; } = 8;
    public int Rank { get; init; } = 8;
    public double Alpha { get; init; } = 32;
    /// <summary>Interleaved rounds; every reported time is a median over them.</summary>
    public int Rounds { get; init; } = 10;
    /// <summary>Training steps of each configuration per round.</summary>
    public int StepsPerRound { get; init; } = 2;
    /// <summary>Untimed steps of each configuration before the first round.</summary>
    public int WarmupSteps { get; init; } = 1;
    /// <summary>Calls of each hook per round when it is timed on its own.</summary>
    public int HookRepeats { get; init; } = 10;
    /// <summary>N: samples of the Fisher pass compared with recording over the same N samples (spread over the rounds).</summary>
    public int FisherSamples { get; init; } = 64;
    public long Seed { get; init; } = 42;
    /// <summary>
    /// torch intra-op threads for the run; 0 keeps torch's default (one per core). Default 1: on a shared
    /// machine two threads wait on each other at every parallel op whenever another process holds a core,
    /// which makes small ops (the hooks') tens of times slower and step times swing by 2x; one thread
    /// measures the arithmetic.
    /// </summary>
    public int Threads { get; init; } = 1;

    public void Validate()
    {
        static void Positive(int v, string name) { if (v < 1) throw new AloraException($"--{name} must be at least 1 (got {v})"); }
        Positive(Vocab, "vocab"); Positive(Hidden, "hidden"); Positive(Layers, "layers"); Positive(Heads, "heads"); Positive(KvHeads, "kv-heads");
        Positive(Intermediate, "intermediate"); Positive(Batch, "batch"); Positive(Rank, "rank"); Positive(Rounds, "rounds");
        Positive(StepsPerRound, "steps-per-round"); Positive(HookRepeats, "hook-repeats"); Positive(FisherSamples, "fisher-samples");
        if (Threads < 0) throw new AloraException($"--threads must be non-negative (got {Threads})");
        if (Seq < 2) throw new AloraException($"--seq must be at least 2 (got {Seq})");
        if (WarmupSteps < 1) throw new AloraException($"--warmup-steps must be at least 1 (the hooks are timed on a step's gradients; got {WarmupSteps})");
        if (Alpha <= 0 || double.IsNaN(Alpha)) throw new AloraException($"--alpha must be positive (got {Alpha})");
        if (Hidden % Heads != 0) throw new AloraException($"--hidden {Hidden} is not a multiple of --heads {Heads}");
    }
}

/// <summary>One step of each configuration, taken one after the other (milliseconds).</summary>
public sealed record ImportanceBenchTurn(double LoraMs, double SiMs, double SiExactMs, double RegMs);

/// <summary>One round's measurements (milliseconds; step times are the means of the round's turns).</summary>
public sealed record ImportanceBenchRound(
    double LoraStepMs, double SiStepMs, double SiExactStepMs, double RegStepMs,
    double SiHookMs, double SiExactHookMs, double RegHookMs, int FisherSamples, double FisherMsPerSample);

/// <summary>What <see cref="ImportanceBench.Run"/> measured; <see cref="ToJson"/> is the file the CLI writes.</summary>
public sealed record ImportanceBenchResult
{
    public required ImportanceBenchOptions Options { get; init; }
    public required IReadOnlyList<ImportanceBenchRound> PerRound { get; init; }
    public required IReadOnlyList<ImportanceBenchTurn> Turns { get; init; }
    public required long ModelParameters { get; init; }
    public required int AdaptedModules { get; init; }
    public required long OmegaElements { get; init; }
    public required int TorchThreads { get; init; }
    public required int ProcessorCount { get; init; }
    public required double[] LoadAverageStart { get; init; }
    public required double[] LoadAverageEnd { get; init; }
    public required DateTimeOffset Date { get; init; }
    public required double WallSeconds { get; init; }
    public required string FisherImplementation { get; init; }

    static double Median(IEnumerable<double> xs)
    {
        var s = xs.Where(double.IsFinite).Order().ToArray();
        if (s.Length == 0) return double.NaN;
        return s.Length % 2 == 1 ? s[s.Length / 2] : 0.5 * (s[s.Length / 2 - 1] + s[s.Length / 2]);
    }

    public double LoraStepMs => Median(Turns.Select(t => t.LoraMs));
    public double SiStepMs => Median(Turns.Select(t => t.SiMs));
    public double SiExactStepMs => Median(Turns.Select(t => t.SiExactMs));
    public double RegStepMs => Median(Turns.Select(t => t.RegMs));
    public double LoraTokensPerSecond => (double)Options.Batch * Options.Seq / (LoraStepMs / 1000);
    /// <summary>Median over turns of the step time over the plain LoRA step of the same turn, so drift in load cancels.</summary>
    public double SiStepRatio => Median(Turns.Select(t => t.SiMs / t.LoraMs));
    public double SiExactStepRatio => Median(Turns.Select(t => t.SiExactMs / t.LoraMs));
    public double RegStepRatio => Median(Turns.Select(t => t.RegMs / t.LoraMs));
    /// <summary>The hook's own time over the plain LoRA step: the overhead without the step-to-step noise.</summary>
    public double SiOverheadFraction => SiMsPerStep / LoraStepMs;
    public double SiExactOverheadFraction => SiExactMsPerStep / LoraStepMs;
    public double RegOverheadFraction => RegMsPerStep / LoraStepMs;
    public double SiMsPerStep => Median(PerRound.Select(r => r.SiHookMs));
    public double SiExactMsPerStep => Median(PerRound.Select(r => r.SiExactHookMs));
    public double RegMsPerStep => Median(PerRound.Select(r => r.RegHookMs));
    public double FisherMsPerSample => Median(PerRound.Where(r => r.FisherSamples > 0).Select(r => r.FisherMsPerSample));
    /// <summary>A Fisher pass over N samples: the median time per sample times N.</summary>
    public double FisherSeconds => FisherMsPerSample * Options.FisherSamples / 1000;
    /// <summary>What recording adds while training on the same N samples: si_ms_per_step * N / batch.</summary>
    public double SiSecondsForFisherSamples => SiMsPerStep * Options.FisherSamples / Options.Batch / 1000;
    public double FisherOverSiOverhead => FisherSeconds / SiSecondsForFisherSamples;
    public long OmegaBytesFp32 => OmegaElements * 4;
    public long OmegaBytesFp16 => OmegaElements * 2;
    /// <summary>A diagonal Fisher of every parameter of the base model, in float32.</summary>
    public long FullFisherBytesFp32 => ModelParameters * 4;
    public double OmegaOverFullFisherBytesFp32 => (double)OmegaBytesFp32 / FullFisherBytesFp32;
    public double OmegaOverFullFisherBytesFp16 => (double)OmegaBytesFp16 / FullFisherBytesFp32;

    /// <summary>The issue's targets: (key, value, limit, at most?, met).</summary>
    public IReadOnlyList<(string Key, double Value, double Limit, bool AtMost, bool Met)> Targets()
    {
        (string, double, double, bool, bool) T(string k, double v, double limit, bool atMost) => (k, v, limit, atMost, atMost ? v <= limit : v >= limit);
        return
        [
            T("si_step_ratio", SiStepRatio, 1.05, true),
            T("reg_step_ratio", RegStepRatio, 1.05, true),
            T("fisher_over_si_overhead", FisherOverSiOverhead, 100, false),
            T("omega_over_full_fisher_bytes_fp32", OmegaOverFullFisherBytesFp32, 0.15, true),
            T("omega_over_full_fisher_bytes_fp16", OmegaOverFullFisherBytesFp16, 0.075, true),
        ];
    }

    public JsonObject ToJson()
    {
        var o = Options;
        static JsonNode R(double v, int digits = 4) => double.IsFinite(v) ? JsonValue.Create(Math.Round(v, digits))! : JsonValue.Create("NaN")!;
        var targets = new JsonObject();
        foreach (var (k, v, limit, atMost, met) in Targets())
            targets[k] = new JsonObject { ["value"] = R(v), [atMost ? "at_most" : "at_least"] = limit, ["met"] = met };
        return new JsonObject
        {
            ["benchmark"] = "importance",
            ["date"] = Date.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            ["shape"] = new JsonObject
            {
                ["vocab"] = o.Vocab, ["hidden"] = o.Hidden, ["layers"] = o.Layers, ["heads"] = o.Heads, ["kv_heads"] = o.KvHeads,
                ["intermediate"] = o.Intermediate, ["seq"] = o.Seq, ["batch"] = o.Batch, ["rank"] = o.Rank, ["alpha"] = o.Alpha,
                ["targets"] = new JsonArray("q_proj", "v_proj"), ["optimizer"] = "adamw", ["model_parameters"] = ModelParameters,
                ["adapted_modules"] = AdaptedModules, ["omega_elements"] = OmegaElements,
            },
            ["rounds"] = o.Rounds, ["steps_per_round"] = o.StepsPerRound, ["warmup_steps"] = o.WarmupSteps, ["hook_repeats"] = o.HookRepeats,
            ["fisher_samples"] = o.FisherSamples,
            ["torch_threads"] = TorchThreads,
            ["machine"] = new JsonObject
            {
                ["processor_count"] = ProcessorCount, ["os"] = RuntimeInformation.OSDescription, ["framework"] = RuntimeInformation.FrameworkDescription,
                ["omp_num_threads"] = Environment.GetEnvironmentVariable("OMP_NUM_THREADS"),
                ["omp_wait_policy"] = Environment.GetEnvironmentVariable("OMP_WAIT_POLICY"),
                ["load_average_start"] = new JsonArray(LoadAverageStart.Select(x => (JsonNode)x).ToArray()),
                ["load_average_end"] = new JsonArray(LoadAverageEnd.Select(x => (JsonNode)x).ToArray()),
            },
            ["lora_tokens_per_second"] = R(LoraTokensPerSecond, 1),
            ["step_ms"] = new JsonObject { ["lora"] = R(LoraStepMs, 2), ["si"] = R(SiStepMs, 2), ["si_exact"] = R(SiExactStepMs, 2), ["reg"] = R(RegStepMs, 2) },
            ["si_step_ratio"] = R(SiStepRatio),
            ["si_exact_step_ratio"] = R(SiExactStepRatio),
            ["reg_step_ratio"] = R(RegStepRatio),
            ["si_ms_per_step"] = R(SiMsPerStep, 3),
            ["si_exact_ms_per_step"] = R(SiExactMsPerStep, 3),
            ["reg_ms_per_step"] = R(RegMsPerStep, 3),
            ["si_overhead_fraction"] = R(SiOverheadFraction, 5),
            ["si_exact_overhead_fraction"] = R(SiExactOverheadFraction, 5),
            ["reg_overhead_fraction"] = R(RegOverheadFraction, 5),
            ["fisher_implementation"] = FisherImplementation,
            ["fisher_ms_per_sample"] = R(FisherMsPerSample, 2),
            ["fisher_seconds"] = R(FisherSeconds, 3),
            ["si_seconds_for_fisher_samples"] = R(SiSecondsForFisherSamples, 5),
            ["fisher_over_si_overhead"] = R(FisherOverSiOverhead, 1),
            ["omega_bytes_fp32"] = OmegaBytesFp32,
            ["omega_bytes_fp16"] = OmegaBytesFp16,
            ["full_fisher_bytes_fp32"] = FullFisherBytesFp32,
            ["omega_over_full_fisher_bytes_fp32"] = R(OmegaOverFullFisherBytesFp32, 5),
            ["omega_over_full_fisher_bytes_fp16"] = R(OmegaOverFullFisherBytesFp16, 5),
            ["targets"] = targets,
            ["per_round"] = new JsonArray(PerRound.Select(r => (JsonNode)new JsonObject
            {
                ["lora_step_ms"] = R(r.LoraStepMs, 2), ["si_step_ms"] = R(r.SiStepMs, 2), ["si_exact_step_ms"] = R(r.SiExactStepMs, 2),
                ["reg_step_ms"] = R(r.RegStepMs, 2), ["si_hook_ms"] = R(r.SiHookMs, 3), ["si_exact_hook_ms"] = R(r.SiExactHookMs, 3),
                ["reg_hook_ms"] = R(r.RegHookMs, 3), ["fisher_samples"] = r.FisherSamples, ["fisher_ms_per_sample"] = R(r.FisherMsPerSample, 2),
            }).ToArray()),
            ["per_turn_step_ms"] = new JsonObject
            {
                ["lora"] = new JsonArray(Turns.Select(t => R(t.LoraMs, 1)).ToArray()),
                ["si"] = new JsonArray(Turns.Select(t => R(t.SiMs, 1)).ToArray()),
                ["si_exact"] = new JsonArray(Turns.Select(t => R(t.SiExactMs, 1)).ToArray()),
                ["reg"] = new JsonArray(Turns.Select(t => R(t.RegMs, 1)).ToArray()),
            },
            ["wall_seconds"] = R(WallSeconds, 1),
        };
    }

    public string ToJsonString() => ToJson().ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";

    /// <summary>A readable summary for the terminal.</summary>
    public string ToTable()
    {
        var o = Options;
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(c, $"importance bench: vocab {o.Vocab}, hidden {o.Hidden}, {o.Layers} layers, {o.Heads} heads / {o.KvHeads} kv, intermediate {o.Intermediate}, "
            + $"seq {o.Seq}, batch {o.Batch}, r {o.Rank}, alpha {o.Alpha}, q_proj+v_proj, AdamW; {ModelParameters:N0} parameters");
        sb.AppendLine(c, $"{o.Rounds} interleaved rounds x {o.StepsPerRound} steps (+{o.WarmupSteps} warm-up), torch threads {TorchThreads}, "
            + $"{ProcessorCount} processors, load {string.Join(" ", LoadAverageStart.Select(x => x.ToString("F2", c)))} -> "
            + $"{string.Join(" ", LoadAverageEnd.Select(x => x.ToString("F2", c)))}, {WallSeconds:F0} s");
        sb.AppendLine();
        sb.AppendLine(c, $"{"configuration",-26} {"ms/step",10} {"x LoRA",8} {"hook ms/step",13} {"hook/step",10}");
        sb.AppendLine(c, $"{"LoRA",-26} {LoraStepMs,10:F1} {1.0,8:F3}");
        sb.AppendLine(c, $"{"LoRA + SI (paper)",-26} {SiStepMs,10:F1} {SiStepRatio,8:F3} {SiMsPerStep,13:F3} {SiOverheadFraction,10:P2}");
        sb.AppendLine(c, $"{"LoRA + SI (exact)",-26} {SiExactStepMs,10:F1} {SiExactStepRatio,8:F3} {SiExactMsPerStep,13:F3} {SiExactOverheadFraction,10:P2}");
        sb.AppendLine(c, $"{"LoRA + ALoRA penalty",-26} {RegStepMs,10:F1} {RegStepRatio,8:F3} {RegMsPerStep,13:F3} {RegOverheadFraction,10:P2}");
        sb.AppendLine("(ms/step and x LoRA: medians over turns of whole training steps; hook: the hook's own calls timed alone, the exact");
        sb.AppendLine(" variant's extra backward GEMM for dL/dW is in its step time only)");
        sb.AppendLine(c, $"LoRA throughput: {LoraTokensPerSecond:F0} tokens/s");
        sb.AppendLine(c, $"Fisher ({FisherImplementation}): {FisherMsPerSample:F1} ms/sample, {FisherSeconds:F2} s for {o.FisherSamples} samples; "
            + $"SI recording over the same samples: {SiSecondsForFisherSamples * 1000:F2} ms");
        sb.AppendLine(c, $"Omega {OmegaBytesFp32:N0} B (fp32) / {OmegaBytesFp16:N0} B (fp16); full diagonal Fisher {FullFisherBytesFp32:N0} B (fp32)");
        sb.AppendLine();
        sb.AppendLine("targets:");
        foreach (var (k, v, limit, atMost, met) in Targets())
            sb.AppendLine(c, $"  {k,-36} {v,10:G4}  {(atMost ? "<=" : ">=")} {limit,-6:G4} {(met ? "met" : "MISSED")}");
        return sb.ToString();
    }
}

/// <summary>
/// How much ALoRA's importance recording (SI, paper and exact variants) and its penalty cost next to
/// plain LoRA training, how an EWC Fisher pass compares, and how Omega's memory compares with a full
/// diagonal Fisher. Random weights and tokens: the cost does not depend on what is learnt.
/// Each configuration trains its own copy of the model (same seed), so the exact variant's gradient
/// probe never slows the others. Rounds interleave the configurations (rotating which goes first), so
/// drift in machine load hits all of them alike; each time reported is a median over rounds.
/// </summary>
public static class ImportanceBench
{
    const double Lr = 8e-4, Xi = 1e-3;

    sealed class Config(string name, LlamaForCausalLM model, IReadOnlyList<AdaptedModule> adapters, Trainer trainer, ITrainingHook? hook) : IDisposable
    {
        public string Name { get; } = name;
        public IReadOnlyList<AdaptedModule> Adapters { get; } = adapters;
        public Trainer Trainer { get; } = trainer;
        public ITrainingHook? Hook { get; } = hook;

        public void Dispose()
        {
            Hook?.Dispose();
            Trainer.Dispose();
            model.Dispose();
        }
    }

    public static LlamaConfig ModelConfig(ImportanceBenchOptions o) => new()
    {
        Architectures = ["LlamaForCausalLM"], ModelType = "llama", VocabSize = o.Vocab, HiddenSize = o.Hidden, IntermediateSize = o.Intermediate,
        NumHiddenLayers = o.Layers, NumAttentionHeads = o.Heads, NumKeyValueHeads = o.KvHeads, MaxPositionEmbeddings = Math.Max(2048, o.Seq),
        RmsNormEps = 1e-6, RopeTheta = 10000, BosTokenId = [1], EosTokenId = [2], TieWordEmbeddings = false,
    };

    public static ImportanceBenchResult Run(ImportanceBenchOptions o, IProgress<string>? log = null)
    {
        o.Validate();
        var cfg = ModelConfig(o);
        cfg.Validate("bench");
        TorchRuntime.Initialize();
        int threadsBefore = get_num_threads();
        if (o.Threads > 0) set_num_threads(o.Threads);
        var wall = Stopwatch.StartNew();
        var loadStart = LoadAverage();
        var lora = new LoraConfig { R = o.Rank, Alpha = o.Alpha, TargetModules = ["q_proj", "v_proj"] };
        var data = RandomSequences(o.Batch * 2, o.Seq, o.Vocab, o.Seed);
        var fisherData = RandomSequences(o.FisherSamples, o.Seq, o.Vocab, o.Seed + 1);
        var train = new TrainConfig
        {
            Lr = Lr, BatchSize = o.Batch, MicroBatchSize = o.Batch, MaxLength = o.Seq, Schedule = LrSchedule.Constant,
            MaxSteps = o.WarmupSteps + o.Rounds * o.StepsPerRound, Seed = o.Seed, CheckpointEvery = 0,
        };

        var configs = new List<Config>();
        LlamaForCausalLM? fisherModel = null;
        try
        {
            configs.Add(MakeConfig("lora", o, cfg, lora, data, train, _ => null));
            configs.Add(MakeConfig("si", o, cfg, lora, data, train, a => new SiRecorder(a, SiVariant.Paper, Xi, true, "unused.safetensors")));
            configs.Add(MakeConfig("si_exact", o, cfg, lora, data, train, a => new SiRecorder(a, SiVariant.Exact, Xi, true, "unused.safetensors")));
            configs.Add(MakeConfig("reg", o, cfg, lora, data, train, a => Regularizer(a, o.Seed)));
            fisherModel = BaseModel(cfg, o.Seed);
            long parameters = fisherModel.parameters().Sum(p => p.numel());
            var adapters = configs[0].Adapters;
            long omegaElements = adapters.Sum(a => a.Layer.OutFeatures * a.Layer.InFeatures);

            log?.Report($"warm-up: {o.WarmupSteps} step(s) of each configuration");
            foreach (var c in configs)
            {
                c.Trainer.Train(stopAfter: c.Trainer.Step + o.WarmupSteps);
                TimeHook(c, 1);
            }
            FisherSecondsPerSample(fisherModel, fisherData.Take(1).ToList(), o.Seq);

            var rounds = new List<ImportanceBenchRound>();
            var turns = new List<ImportanceBenchTurn>();
            int fisherDone = 0;
            for (int r = 0; r < o.Rounds; r++)
            {
                var stepMs = configs.ToDictionary(c => c.Name, _ => 0.0);
                var hookMs = new Dictionary<string, double>();
                for (int step = 0; step < o.StepsPerRound; step++)
                {
                    var turn = new Dictionary<string, double>();
                    for (int k = 0; k < configs.Count; k++)
                    {
                        var c = configs[(k + r * o.StepsPerRound + step) % configs.Count];   // one step each in turn, rotating who goes first
                        var clock = Stopwatch.StartNew();
                        c.Trainer.Train(stopAfter: c.Trainer.Step + 1);
                        turn[c.Name] = clock.Elapsed.TotalMilliseconds;
                        stepMs[c.Name] += turn[c.Name] / o.StepsPerRound;
                    }
                    turns.Add(new ImportanceBenchTurn(turn["lora"], turn["si"], turn["si_exact"], turn["reg"]));
                }
                for (int k = 0; k < configs.Count; k++)
                {
                    var c = configs[(k + r) % configs.Count];
                    if (c.Hook is not null) hookMs[c.Name] = TimeHook(c, o.HookRepeats);
                }
                int share = o.FisherSamples / o.Rounds + (r < o.FisherSamples % o.Rounds ? 1 : 0);
                double fisherMs = share == 0 ? double.NaN
                    : FisherSecondsPerSample(fisherModel, fisherData.Skip(fisherDone).Take(share).ToList(), o.Seq) * 1000;
                fisherDone += share;
                var round = new ImportanceBenchRound(stepMs["lora"], stepMs["si"], stepMs["si_exact"], stepMs["reg"],
                    hookMs["si"], hookMs["si_exact"], hookMs["reg"], share, fisherMs);
                rounds.Add(round);
                log?.Report(string.Create(CultureInfo.InvariantCulture,
                    $"round {r + 1}/{o.Rounds}: ms/step lora {round.LoraStepMs:F0}, si {round.SiStepMs:F0}, si-exact {round.SiExactStepMs:F0}, reg {round.RegStepMs:F0}; "
                    + $"hooks si {round.SiHookMs:F2}, si-exact {round.SiExactHookMs:F2}, reg {round.RegHookMs:F2}; fisher {round.FisherMsPerSample:F0} ms/sample"));
            }

            return new ImportanceBenchResult
            {
                Options = o, PerRound = rounds, Turns = turns, ModelParameters = parameters, AdaptedModules = adapters.Count, OmegaElements = omegaElements,
                TorchThreads = get_num_threads(), ProcessorCount = Environment.ProcessorCount, LoadAverageStart = loadStart, LoadAverageEnd = LoadAverage(),
                Date = DateTimeOffset.UtcNow, WallSeconds = wall.Elapsed.TotalSeconds, FisherImplementation = FisherImplementationName,
            };
        }
        finally
        {
            foreach (var c in configs) c.Dispose();
            fisherModel?.Dispose();
            if (o.Threads > 0) set_num_threads(threadsBefore);
        }
    }

    static LlamaForCausalLM BaseModel(LlamaConfig cfg, long seed)
    {
        random.manual_seed(seed);
        var m = new LlamaForCausalLM(cfg);
        m.InitWeights(0.02);
        return m;
    }

    static Config MakeConfig(string name, ImportanceBenchOptions o, LlamaConfig cfg, LoraConfig lora, List<TrainingExample> data, TrainConfig train,
        Func<IReadOnlyList<AdaptedModule>, ITrainingHook?> hook)
    {
        var model = BaseModel(cfg, o.Seed);
        ITrainingHook? h = null;
        try
        {
            random.manual_seed(o.Seed + 1);
            var adapters = LoraInjector.Inject(model, lora);
            h = hook(adapters);
            var trainer = new Trainer(model, adapters, data, train, runDir: null, hooks: h is null ? [] : [h]);
            return new Config(name, model, adapters, trainer, h);
        }
        catch
        {
            h?.Dispose();
            model.Dispose();
            throw;
        }
    }

    /// <summary>The penalty with a random non-negative Omega and random stage-nu factors; uniform weights, so every module pays.</summary>
    static AloraRegularizer Regularizer(IReadOnlyList<AdaptedModule> adapters, long seed)
    {
        random.manual_seed(seed + 2);
        using var scope = NewDisposeScope();
        var omega = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var a = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var b = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var m in adapters)
        {
            var l = m.Layer;
            omega[m.Path] = rand(l.OutFeatures, l.InFeatures);                 // [out,in], >= 0
            a[m.Path] = randn(l.Rank, l.InFeatures).Times(0.05);                // [r,in]
            b[m.Path] = randn(l.OutFeatures, l.Rank).Times(0.01);               // [out,r]
        }
        var importance = new ImportanceFile
        {
            Modules = adapters.Select(x => x.Path).ToList(), Omega = omega, A = a, B = b, Scaling = adapters[0].Layer.Scaling,
            Metadata = new Dictionary<string, string>(StringComparer.Ordinal),
        };
        return new AloraRegularizer(adapters, importance, "bench", phi: 1.0, LayerWeighting.Uniform);
    }

    /// <summary>
    /// Milliseconds one step's worth of the hook's own calls takes, on the tensors the last training
    /// step left: OnTaskGradients + AfterOptimizerStep for the recorder, Penalty + its backward for the penalty.
    /// </summary>
    static double TimeHook(Config c, int repeats)
    {
        if (c.Hook is null) return 0;
        var ctx = new StepContext { Adapters = c.Adapters, Lr = Lr, Step = c.Trainer.Step, Tokens = 1 };
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < repeats; i++)
        {
            using var scope = NewDisposeScope();
            c.Hook.OnTaskGradients(ctx);
            if (c.Hook.Penalty(ctx) is { } p) p.backward();
            c.Hook.BeforeOptimizerStep(ctx);
            c.Hook.AfterOptimizerStep(ctx);
        }
        return clock.Elapsed.TotalMilliseconds / repeats;
    }

    static List<TrainingExample> RandomSequences(int count, int len, int vocab, long seed)
    {
        var rng = new Random(unchecked((int)seed));
        return Enumerable.Range(0, count).Select(_ =>
        {
            var ids = Enumerable.Range(0, len).Select(_ => rng.Next(vocab)).ToArray();
            return new TrainingExample(ids, ids.Select((_, j) => j > 0).ToArray());
        }).ToList();
    }

    static double[] LoadAverage()
    {
        try
        {
            if (!File.Exists("/proc/loadavg")) return [];
            return File.ReadAllText("/proc/loadavg").Split(' ', StringSplitOptions.RemoveEmptyEntries).Take(3)
                .Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    // ---- EWC's Fisher pass ----

    const string FisherImplementationName = "Alora.Methods.FisherEstimator";

    /// <summary>Seconds per sample of EWC's Fisher pass (<see cref="FisherEstimator.Estimate"/>: batch 1, one sample per squared gradient of W0) over these samples.</summary>
    static double FisherSecondsPerSample(LlamaForCausalLM model, List<TrainingExample> samples, int seq)
    {
        if (samples.Count == 0) return double.NaN;
        var clock = Stopwatch.StartNew();
        using var fisher = FisherEstimator.Estimate(model, samples, new FisherOptions { Samples = samples.Count, MaxLength = seq });
        return clock.Elapsed.TotalSeconds / samples.Count;
    }
}
