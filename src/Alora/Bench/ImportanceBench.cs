using System.Diagnostics;
using System.Globalization;
using Alora.Data;
using Alora.Lora;
using Alora.Methods;
using Alora.Models;
using Alora.Runtime;
using Alora.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Bench;

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
    const double Lr = 8e-4,
        Xi = 1e-3;

    sealed class Config(string name, LlamaForCausalLM model, IReadOnlyList<AdaptedModule> adapters, Trainer trainer, ITrainingHook? hook)
        : IDisposable
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

    public static LlamaConfig ModelConfig(ImportanceBenchOptions o) =>
        new()
        {
            Architectures = ["LlamaForCausalLM"],
            ModelType = "llama",
            VocabSize = o.Vocab,
            HiddenSize = o.Hidden,
            IntermediateSize = o.Intermediate,
            NumHiddenLayers = o.Layers,
            NumAttentionHeads = o.Heads,
            NumKeyValueHeads = o.KvHeads,
            MaxPositionEmbeddings = Math.Max(2048, o.Seq),
            RmsNormEps = 1e-6,
            RopeTheta = 10000,
            BosTokenId = [1],
            EosTokenId = [2],
            TieWordEmbeddings = false,
        };

    public static ImportanceBenchResult Run(ImportanceBenchOptions o, IProgress<string>? log = null)
    {
        o.Validate();
        var cfg = ModelConfig(o);
        cfg.Validate("bench");
        TorchRuntime.Initialize();
        int threadsBefore = get_num_threads();
        if (o.Threads > 0)
            set_num_threads(o.Threads);
        var wall = Stopwatch.StartNew();
        var loadStart = LoadAverage();
        var lora = new LoraConfig
        {
            R = o.Rank,
            Alpha = o.Alpha,
            TargetModules = ["q_proj", "v_proj"],
        };
        var data = RandomSequences(o.Batch * 2, o.Seq, o.Vocab, o.Seed);
        var fisherData = RandomSequences(o.FisherSamples, o.Seq, o.Vocab, o.Seed + 1);
        var train = new TrainConfig
        {
            Lr = Lr,
            BatchSize = o.Batch,
            MicroBatchSize = o.Batch,
            MaxLength = o.Seq,
            Schedule = LrSchedule.Constant,
            MaxSteps = o.WarmupSteps + o.Rounds * o.StepsPerRound,
            Seed = o.Seed,
            CheckpointEvery = 0,
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
                // the Fisher samples spread over the rounds, the first FisherSamples % Rounds rounds taking one more
                int share = o.FisherSamples / o.Rounds + (r < o.FisherSamples % o.Rounds ? 1 : 0);
                var round = Round(o, r, configs, turns, fisherModel, fisherData.Skip(fisherDone).Take(share).ToList());
                fisherDone += share;
                rounds.Add(round);
                log?.Report(
                    string.Create(
                        CultureInfo.InvariantCulture,
                        $"round {r + 1}/{o.Rounds}: ms/step lora {round.LoraStepMs:F0}, si {round.SiStepMs:F0}, si-exact {round.SiExactStepMs:F0}, reg {round.RegStepMs:F0}; "
                            + $"hooks si {round.SiHookMs:F2}, si-exact {round.SiExactHookMs:F2}, reg {round.RegHookMs:F2}; fisher {round.FisherMsPerSample:F0} ms/sample"
                    )
                );
            }

            return new ImportanceBenchResult
            {
                Options = o,
                PerRound = rounds,
                Turns = turns,
                ModelParameters = parameters,
                AdaptedModules = adapters.Count,
                OmegaElements = omegaElements,
                TorchThreads = get_num_threads(),
                ProcessorCount = Environment.ProcessorCount,
                LoadAverageStart = loadStart,
                LoadAverageEnd = LoadAverage(),
                Date = DateTimeOffset.UtcNow,
                WallSeconds = wall.Elapsed.TotalSeconds,
                FisherImplementation = FisherImplementationName,
            };
        }
        finally
        {
            foreach (var c in configs)
                c.Dispose();
            fisherModel?.Dispose();
            if (o.Threads > 0)
                set_num_threads(threadsBefore);
        }
    }

    /// <summary>
    /// Round r: StepsPerRound turns of one training step per configuration (added to <paramref name="turns"/>),
    /// then each hook timed on its own, then the Fisher pass over this round's share of its samples.
    /// </summary>
    static ImportanceBenchRound Round(
        ImportanceBenchOptions o,
        int r,
        List<Config> configs,
        List<ImportanceBenchTurn> turns,
        LlamaForCausalLM fisherModel,
        List<TrainingExample> fisherSamples
    )
    {
        var stepMs = configs.ToDictionary(c => c.Name, _ => 0.0);
        var hookMs = new Dictionary<string, double>();
        for (int step = 0; step < o.StepsPerRound; step++)
        {
            var turn = new Dictionary<string, double>();
            for (int k = 0; k < configs.Count; k++)
            {
                var c = configs[(k + r * o.StepsPerRound + step) % configs.Count]; // one step each in turn, rotating who goes first
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
            if (c.Hook is not null)
                hookMs[c.Name] = TimeHook(c, o.HookRepeats);
        }
        double fisherMs = fisherSamples.Count == 0 ? double.NaN : FisherSecondsPerSample(fisherModel, fisherSamples, o.Seq) * 1000;
        return new ImportanceBenchRound(
            stepMs["lora"],
            stepMs["si"],
            stepMs["si_exact"],
            stepMs["reg"],
            hookMs["si"],
            hookMs["si_exact"],
            hookMs["reg"],
            fisherSamples.Count,
            fisherMs
        );
    }

    static LlamaForCausalLM BaseModel(LlamaConfig cfg, long seed)
    {
        random.manual_seed(seed);
        var m = new LlamaForCausalLM(cfg);
        m.InitWeights(0.02);
        return m;
    }

    static Config MakeConfig(
        string name,
        ImportanceBenchOptions o,
        LlamaConfig cfg,
        LoraConfig lora,
        List<TrainingExample> data,
        TrainConfig train,
        Func<IReadOnlyList<AdaptedModule>, ITrainingHook?> hook
    )
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
            omega[m.Path] = rand(l.OutFeatures, l.InFeatures); // [out,in], >= 0
            a[m.Path] = randn(l.Rank, l.InFeatures).Times(0.05); // [r,in]
            b[m.Path] = randn(l.OutFeatures, l.Rank).Times(0.01); // [out,r]
        }
        var importance = new ImportanceFile
        {
            Modules = adapters.Select(x => x.Path).ToList(),
            Omega = omega,
            A = a,
            B = b,
            Scaling = adapters[0].Layer.Scaling,
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
        if (c.Hook is null)
            return 0;
        var ctx = new StepContext
        {
            Adapters = c.Adapters,
            Lr = Lr,
            Step = c.Trainer.Step,
            Tokens = 1,
        };
        var clock = Stopwatch.StartNew();
        for (int i = 0; i < repeats; i++)
        {
            using var scope = NewDisposeScope();
            c.Hook.OnTaskGradients(ctx);
            if (c.Hook.Penalty(ctx) is { } p)
                p.backward();
            c.Hook.BeforeOptimizerStep(ctx);
            c.Hook.AfterOptimizerStep(ctx);
        }
        return clock.Elapsed.TotalMilliseconds / repeats;
    }

    /// <summary>Uniform random token ids; every position but the first is a target.</summary>
    internal static List<TrainingExample> RandomSequences(int count, int len, int vocab, long seed)
    {
        var rng = new Random(unchecked((int)seed));
        return Enumerable
            .Range(0, count)
            .Select(_ =>
            {
                var ids = Enumerable.Range(0, len).Select(_ => rng.Next(vocab)).ToArray();
                return new TrainingExample(ids, ids.Select((_, j) => j > 0).ToArray());
            })
            .ToList();
    }

    /// <summary>The 1, 5 and 15 minute load averages of /proc/loadavg; empty where there is none.</summary>
    public static double[] LoadAverage()
    {
        try
        {
            if (!File.Exists("/proc/loadavg"))
                return [];
            return File.ReadAllText("/proc/loadavg")
                .Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Take(3)
                .Select(s => double.Parse(s, CultureInfo.InvariantCulture))
                .ToArray();
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
        if (samples.Count == 0)
            return double.NaN;
        var clock = Stopwatch.StartNew();
        using var fisher = FisherEstimator.Estimate(model, samples, new FisherOptions { Samples = samples.Count, MaxLength = seq });
        return clock.Elapsed.TotalSeconds / samples.Count;
    }
}
