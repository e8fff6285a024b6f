using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Alora.Experiments;
using Alora.Methods;
using Alora.Recipes;

namespace Alora.Demo;

/// <summary>Settings of <c>alora demo</c>: the data world, the base model's pretraining and the experiment's scale.</summary>
public sealed record DemoOptions
{
    /// <summary>Folder for data/, experiment.yaml, the experiment (runs/, results.csv, report.md).</summary>
    public string Out { get; init; } = "alora-demo";
    public SyntheticDataOptions Data { get; init; } = new();

    /// <summary>Untied embeddings: with a shared embedding every rare token (the drug suffixes) was pushed by the output
    /// softmax's gradient in the same direction, and the eight suffixes ended with cosine 0.9 to each other; no adapter
    /// learned a rule keyed on them (docs/demo-study.md, S3). Untied, their input embeddings stay apart (cosine 0.32).</summary>
    public PretrainOptions Pretrain { get; init; } = new() { MaxSteps = 300, TieWordEmbeddings = false };

    /// <summary>Where pretrained base models are kept, keyed by a hash of the data and pretraining settings; null: ~/.cache/alora/demo-base.</summary>
    public string? CacheDir { get; init; }

    /// <summary>The methods the demo compares: named here, so that a method added to the registry joins the demo by choice.</summary>
    public IReadOnlyList<string> Methods { get; init; } = ["base", "lora-mu", "lora-nu-mu", "rslora", "ewc-lora", "alora-no-layer", "alora"];
    public IReadOnlyList<long> Seeds { get; init; } = [1, 2, 3];
    public int GeneralSteps { get; init; } = 50;

    /// <summary>300 steps (20 epochs of the 240 items): LoRA(mu) reaches 1.0 on the validation split, so every method is
    /// compared near the end of learning rather than in the middle of it, where one seed's accuracy swings by 20 points.</summary>
    public int DomainSteps { get; init; } = 300;
    public double Lr { get; init; } = 3e-3;
    public int Rank { get; init; } = 8;

    /// <summary>All seven projections: with q,v only the domain stayed at chance in 60 steps (docs/demo-study.md, S1).</summary>
    public string TargetModules { get; init; } = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj";

    /// <summary>
    /// phi (ALoRA and "- layer") and lambda (EWC-LoRA) were chosen by one rule, on the validation split with a seed the
    /// demo does not report (11): the strongest value of a x3 grid whose validation accuracy stays within 2 points of
    /// LoRA(mu)'s. phi 30 (0.988, ppl 6.96; phi 50 gave 0.973), lambda 300 (1.000, ppl 7.03; lambda 1000 gave 0.973).
    /// docs/demo-study.md has the grid.
    /// </summary>
    public double Phi { get; init; } = 30;

    /// <summary>The paper's softmax of the importance norms saturates (norms a few units apart give one module nearly all
    /// the weight: 0.02, 12.2, 0.001, 7.8 give 0, 0.988, 0, 0.012); softmax of the norms over their mean
    /// keeps the paper's ordering without giving one module all the weight.</summary>
    public LayerWeighting LayerWeights { get; init; } = LayerWeighting.SoftmaxNormalized;
    public double EwcLambda { get; init; } = 300;

    /// <summary>EWC at nu's lambda, replay's fraction and the scaled adapter's beta, when those methods are in <see cref="Methods"/>.</summary>
    public double EwcNuLambda { get; init; } = 300;
    public double ReplayFraction { get; init; } = 0.25;
    public double AdapterScale { get; init; } = 0.5;

    /// <summary>Per method, strengths besides its configured one (the experiment's sweeps.strength): the points of its
    /// trade-off curve. Empty for the default demo; the study's (<see cref="Study"/>) draws the frontier.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<double>> Strengths { get; init; } = new Dictionary<string, IReadOnlyList<double>>();

    /// <summary>Other layer weightings of Ours, each drawn as a curve over its strengths (the experiment's sweeps.layer-weights).</summary>
    public IReadOnlyList<LayerWeighting> LayerWeightCurves { get; init; } = [];

    /// <summary>The strengths of those curves (sweeps.layer-weight-strengths; empty: all of Ours').</summary>
    public IReadOnlyList<double> LayerWeightStrengths { get; init; } = [];

    /// <summary>When set, Ours, Ours − layer and EWC(ν) take their strength scale-free (--relative-strength rho) instead of
    /// <see cref="Phi"/> and <see cref="EwcNuLambda"/>, and <see cref="Strengths"/> lists rho for them.</summary>
    public double? RelativeStrength { get; init; }
    public int FisherSamples { get; init; } = 64;
    public int BatchSize { get; init; } = 16;

    /// <summary>Sequential tuning: every trained method's run on the pharma task continues on the zoo task (the experiment's sequence).</summary>
    public bool Sequential { get; init; }

    /// <summary>Evaluate on the first N held-out documents and test items only (null: all).</summary>
    public int? EvalLimit { get; init; }

    /// <summary>Jobs of the experiment run at once (<see cref="ExperimentRunOptions.Workers"/>; needs the caller's launcher).</summary>
    public int Workers { get; init; } = 1;

    /// <summary>The default demo (the README's first command).</summary>
    public static DemoOptions Default(string outDir) => new() { Out = outDir, Data = World };

    /// <summary>
    /// The demo's world: the quick world's 40 people (learnable in a few minutes of pretraining) with the default 600
    /// everyday sentences, whose "reading" sentences put every drug suffix and every answer of the domain into the
    /// pretraining text. SyntheticDataOptions.Quick has 100 and its pretraining text contains none of the eight suffixes
    /// and 18 of the 32 answers: tuned on it, LoRA stayed at chance (docs/demo-study.md).
    /// </summary>
    public static SyntheticDataOptions World { get; } =
        SyntheticDataOptions.Quick with
        {
            EverydaySentences = 600,
            PretrainWords = 40_000,
            NuWords = 8_000,
            HeldoutWords = 8_000,
            DomainTestItems = 256,
            DomainValidationItems = 256,
            Seed = 1,
            ZooDomain = true,
        };

    /// <summary>Every method the study compares on the frontier.</summary>
    public static IReadOnlyList<string> StudyMethods { get; } =
    ["base", "lora-mu", "lora-scaled", "lora-nu-mu", "replay", "ewc-lora", "ewc-nu", "alora-no-layer", "alora"];

    /// <summary>
    /// <c>--study</c>: the frontier study, every method of <see cref="StudyMethods"/> over three seeds, each method with a
    /// strength at four (its configured one and three more), Ours, Ours − layer and EWC(ν) in the scale-free rho, and
    /// Ours with the softmax and softmax-log weightings at two of them (uniform is Ours − layer). 200 domain steps: the
    /// pilot's 300 doubled the time, and at 150 the methods that continue stage ν's adapter were still learning (LoRA(ν+μ)
    /// 59 % where it reaches 94-97 % at 200). About 30 minutes on 2 cores; <c>--seeds 5</c> adds two seeds to a finished
    /// study (its jobs are reused).
    /// </summary>
    public static DemoOptions Study(string outDir) =>
        Default(outDir) with
        {
            Methods = StudyMethods,
            Seeds = [1, 2, 3],
            DomainSteps = 200,
            RelativeStrength = 0.03,
            EwcLambda = 300,
            ReplayFraction = 0.125,
            AdapterScale = 0.75,
            Strengths = new Dictionary<string, IReadOnlyList<double>>
            {
                ["alora"] = [0.003, 0.1, 0.3],
                ["alora-no-layer"] = [0.003, 0.1, 0.3],
                ["ewc-nu"] = [0.003, 0.1, 0.3],
                ["ewc-lora"] = [30, 100, 1000],
                ["replay"] = [0.0625, 0.25, 0.375],
                ["lora-scaled"] = [0.5, 0.9, 0.95],
            },
            LayerWeightCurves = [LayerWeighting.Softmax, LayerWeighting.SoftmaxLog],
            LayerWeightStrengths = [0.003, 0.03],
        };

    /// <summary><c>--study --quick</c>: the study's pipeline at <see cref="QuickRun"/>'s scale, two strengths a method.</summary>
    public static DemoOptions StudyQuick(string outDir) =>
        QuickRun(outDir) with
        {
            Methods = StudyMethods,
            RelativeStrength = 0.03,
            ReplayFraction = 0.125,
            AdapterScale = 0.75,
            Strengths = new Dictionary<string, IReadOnlyList<double>>
            {
                ["alora"] = [0.01],
                ["alora-no-layer"] = [0.01],
                ["ewc-nu"] = [0.01],
                ["ewc-lora"] = [30],
                ["replay"] = [0.25],
                ["lora-scaled"] = [0.5],
            },
            LayerWeightCurves = [LayerWeighting.Softmax, LayerWeighting.SoftmaxLog],
            LayerWeightStrengths = [0.01, 0.03],
        };

    /// <summary>Every method <c>--sequential</c> continues from pharma into zoo (base is the reference; lora-scaled trains nothing to continue).</summary>
    public static IReadOnlyList<string> SequentialMethods { get; } =
    ["base", "lora-mu", "lora-nu-mu", "replay", "ewc-lora", "ewc-nu", "alora-no-layer", "alora"];

    /// <summary>
    /// <c>--sequential</c>: nu, then pharma, then zoo (eq. 15), each method at the study's configured strength over three
    /// seeds and 200 steps a domain; the report's sequence section gives what each kept of pharma and of the general text.
    /// </summary>
    public static DemoOptions SequentialRun(string outDir) =>
        Study(outDir) with
        {
            Methods = SequentialMethods,
            Sequential = true,
            Strengths = new Dictionary<string, IReadOnlyList<double>>(),
            LayerWeightCurves = [],
            LayerWeightStrengths = [],
        };

    /// <summary><c>--sequential --quick</c>: its pipeline at <see cref="QuickRun"/>'s scale.</summary>
    public static DemoOptions SequentialQuick(string outDir) =>
        QuickRun(outDir) with
        {
            Methods = SequentialMethods,
            Sequential = true,
            RelativeStrength = 0.03,
            ReplayFraction = 0.125,
        };

    /// <summary><c>--quick</c>: the same world and base model (one cache entry serves both), short stages, two seeds
    /// (the fewest a t-test takes): a smoke run of the whole pipeline, too short to show the effect.</summary>
    public static DemoOptions QuickRun(string outDir) =>
        Default(outDir) with
        {
            GeneralSteps = 10,
            DomainSteps = 20,
            FisherSamples = 16,
            Seeds = [1, 2],
            EvalLimit = 64,
        };
}

/// <summary>What a demo produced: where its files are, the experiment's outcome, whether the base model came from the cache.</summary>
public sealed record DemoOutcome(
    string DataDir,
    string BaseModel,
    bool BaseFromCache,
    double PretrainSeconds,
    string ConfigPath,
    ExperimentOutcome Experiment
);

/// <summary>A method's mean over seeds after its zoo stage (sequential demo).</summary>
public sealed record DemoSequenceRow(string Method, int Seeds, double GeneralPpl, double PharmaAcc, double ZooAcc);

/// <summary>A method's mean over seeds, one row of the demo's table.</summary>
public sealed record DemoSummaryRow(string Method, int Seeds, double GeneralPpl, double DomainAcc, double FactsAcc);

/// <summary>
/// The offline demo as one recipe: generate the synthetic data (<see cref="SyntheticData"/>), get the base model
/// (pretrained by <see cref="PretrainRecipe"/> once and cached under a hash of its settings), write an experiment
/// with every method over the seeds (kept as experiment.yaml to rerun) and run it (<see cref="Experiment"/>), which writes results.csv and report.md.
/// </summary>
public static class DemoRecipe
{
    public static string DefaultCacheDir() =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "alora", "demo-base");

    /// <summary>The cache key of a base model: a hash of what shapes its weights, the pretraining text and tokenizer
    /// (so a change of the data generator invalidates the cache) and the pretraining settings.</summary>
    public static string BaseKey(PretrainOptions p, string dataDir)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in new[] { SyntheticData.Pretrain, "tokenizer.json" })
            sha.AppendData(File.ReadAllBytes(Path.Combine(dataDir, file)));
        sha.AppendData(
            Encoding.UTF8.GetBytes(
                string.Join(
                    ",",
                    new object[]
                    {
                        p.Hidden,
                        p.Layers,
                        p.Heads,
                        p.KvHeads,
                        p.Intermediate,
                        p.MaxLength,
                        p.MaxSteps,
                        p.BatchSize,
                        p.Lr.ToString("R", CultureInfo.InvariantCulture),
                        p.WeightDecay.ToString("R", CultureInfo.InvariantCulture),
                        p.WarmupRatio.ToString("R", CultureInfo.InvariantCulture),
                        p.Seed,
                        p.TieWordEmbeddings,
                    }
                )
            )
        );
        return Convert.ToHexStringLower(sha.GetHashAndReset())[..16];
    }

    public static DemoOutcome Run(DemoOptions o, Action<string>? log = null, ExperimentRunOptions? runOptions = null)
    {
        log ??= _ => { };
        Directory.CreateDirectory(o.Out);
        var dataDir = Path.GetFullPath(Path.Combine(o.Out, "data"));
        log($"data: generating the synthetic world (seed {o.Data.Seed}) into {dataDir}");
        SyntheticData.Generate(dataDir, o.Data);

        var cache = o.CacheDir ?? DefaultCacheDir();
        var baseDir = Path.GetFullPath(Path.Combine(cache, BaseKey(o.Pretrain, dataDir)));
        bool cached = File.Exists(Path.Combine(baseDir, "config.json")) && File.Exists(Path.Combine(baseDir, "model.safetensors"));
        double pretrainSeconds = 0;
        if (cached)
            log($"base model: reusing {baseDir}");
        else
        {
            log($"base model: pretraining {o.Pretrain.MaxSteps} steps into {baseDir}");
            var tmp = baseDir + ".tmp-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
            if (Directory.Exists(tmp))
                Directory.Delete(tmp, true);
            var sw = System.Diagnostics.Stopwatch.StartNew();
            PretrainRecipe.Run(
                o.Pretrain with
                {
                    Tokenizer = dataDir,
                    Data = Path.Combine(dataDir, "general", "pretrain.txt"),
                    Out = tmp,
                    Resume = false,
                }
            );
            pretrainSeconds = sw.Elapsed.TotalSeconds;
            Directory.Delete(Path.Combine(tmp, "pretrain-run", "checkpoints"), true);
            if (Directory.Exists(baseDir))
                Directory.Delete(baseDir, true);
            Directory.CreateDirectory(Path.GetDirectoryName(baseDir)!);
            Directory.Move(tmp, baseDir);
        }

        var configPath = Path.GetFullPath(Path.Combine(o.Out, "experiment.yaml"));
        var config = Configuration(o, baseDir, dataDir) with { Source = configPath };
        config.Validate();
        ExperimentYaml.Save(config, configPath, "written by alora demo; rerun with: alora experiment --config experiment.yaml --out experiment");
        log($"experiment: {string.Join(", ", o.Methods)} over seeds {string.Join(", ", o.Seeds)} ({configPath})");
        var outcome = Experiment.Run(config, Path.GetFullPath(Path.Combine(o.Out, "experiment")), (runOptions ?? new()) with { Workers = o.Workers });
        return new DemoOutcome(dataDir, baseDir, cached, pretrainSeconds, configPath, outcome);
    }

    /// <summary>The experiment the demo runs: every method over the seeds on the generated data and the base model.</summary>
    public static ExperimentConfig Configuration(DemoOptions o, string baseDir, string dataDir)
    {
        string P(params string[] parts) => Path.Combine([dataDir, .. parts]);
        var modules = o.TargetModules.Split(',').Select(m => JsonValue.Create(m)).ToArray<JsonNode?>();
        return new ExperimentConfig
        {
            Model = baseDir,
            General = new() { Train = P("general", "nu.txt"), Heldout = P("general", "heldout.txt") },
            Domain =
            [
                new()
                {
                    Name = "pharma",
                    Task = "sciq",
                    Train = P("domain", "train.jsonl"),
                    Test = P("domain", "test.jsonl"),
                },
            ],
            Sequence = o.Sequential
                ?
                [
                    new()
                    {
                        Name = "zoo",
                        Task = "sciq",
                        Train = P("zoo", "train.jsonl"),
                        Test = P("zoo", "test.jsonl"),
                    },
                ]
                : [],
            Probes =
            [
                new()
                {
                    Name = "facts",
                    Task = "mcq",
                    File = P("general", "facts-test.jsonl"),
                },
            ],
            Methods = o.Methods,
            Seeds = o.Seeds,
            Train = new()
            {
                ["rank"] = o.Rank,
                ["alpha"] = 32,
                ["target-modules"] = new JsonArray(modules),
                ["lr"] = o.Lr,
                ["batch-size"] = o.BatchSize,
                ["micro-batch-size"] = o.BatchSize,
                ["max-length"] = o.Pretrain.MaxLength,
                ["checkpoint-every"] = 1000,
            },
            GeneralStage = new() { ["max-steps"] = o.GeneralSteps },
            DomainStage = new() { ["max-steps"] = o.DomainSteps },
            Overrides = Overrides(o),
            Fisher = new() { Samples = o.FisherSamples },
            Eval = new() { Limit = o.EvalLimit },
            Sweeps = new()
            {
                Strength = o.Strengths.Where(kv => o.Methods.Contains(kv.Key)).ToDictionary(),
                LayerWeights = o.Methods.Contains(ExperimentMethods.Alora) ? o.LayerWeightCurves : [],
                LayerWeightStrengths = o.Methods.Contains(ExperimentMethods.Alora) && o.LayerWeightCurves.Count > 0 ? o.LayerWeightStrengths : [],
            },
        };
    }

    static Dictionary<string, JsonObject> Overrides(DemoOptions o)
    {
        // phi and EWC(ν)'s lambda, or rho for all three when the strength is given scale-free
        JsonObject Strength(string key, double value) =>
            o.RelativeStrength is { } rho ? new() { ["relative-strength"] = rho } : new() { [key] = value };
        var alora = Strength("phi", o.Phi);
        alora["layer-weights"] = EnumNames<LayerWeighting>.Name(o.LayerWeights);
        var overrides = new Dictionary<string, JsonObject>
        {
            [ExperimentMethods.Alora] = alora,
            ["alora-no-layer"] = Strength("phi", o.Phi),
            ["ewc-lora"] = new() { ["ewc-lambda"] = o.EwcLambda },
        };
        // the newer baselines' settings only when the demo runs them (the default demo's experiment.yaml stays as it was)
        if (o.Methods.Contains("ewc-nu"))
            overrides["ewc-nu"] = Strength("ewc-lambda", o.EwcNuLambda);
        if (o.Methods.Contains("replay"))
            overrides["replay"] = new() { ["replay-fraction"] = o.ReplayFraction };
        if (o.Methods.Contains("lora-scaled"))
            overrides["lora-scaled"] = new() { ["adapter-scale"] = o.AdapterScale };
        return overrides;
    }

    /// <summary>Per method, the mean over seeds after the sequence's stage on zoo: general perplexity, pharma accuracy (what
    /// it kept) and zoo accuracy; empty without a sequence.</summary>
    public static IReadOnlyList<DemoSequenceRow> SummarizeSequence(IReadOnlyList<ResultRow> rows, IReadOnlyList<string> methods) =>
        methods
            .Select(m => rows.Where(r => r.Method == m && r.Sweep == ExperimentPlanner.SequenceSweep).ToList())
            .Where(g => g.Count > 0)
            .Select(g => new DemoSequenceRow(
                g[0].Method,
                g.Count,
                g.Average(r => r.GeneralPpl),
                g.Average(r => r.Probes.TryGetValue("pharma", out var p) ? p.Acc : double.NaN),
                g.Average(r => r.Acc)
            ))
            .ToList();

    /// <summary>Mean over seeds per method, in the order of the methods (sweep rows left out).</summary>
    public static IReadOnlyList<DemoSummaryRow> Summarize(IReadOnlyList<ResultRow> rows, IReadOnlyList<string> methods) =>
        methods
            .Select(m => rows.Where(r => r.Method == m && r.Sweep is null).ToList())
            .Where(g => g.Count > 0)
            .Select(g => new DemoSummaryRow(
                g[0].Method,
                g.Select(r => r.Seed).Distinct().Count(),
                g.Average(r => r.GeneralPpl),
                g.Average(r => r.Acc),
                g.Average(r => r.Probes.TryGetValue("facts", out var f) ? f.Acc : double.NaN)
            ))
            .ToList();
}
