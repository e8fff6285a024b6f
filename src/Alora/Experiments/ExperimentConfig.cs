using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Alora.Data;
using Alora.Hub;
using Alora.Methods;
using Alora.Recipes;
using Alora.Runtime;

namespace Alora.Experiments;

/// <summary>
/// An experiment as data: the model, the general and domain data, the methods, the seeds and the
/// hyper-parameters. Read from YAML (<see cref="Load"/>), whose keys are these property names in kebab-case
/// (snake_case is accepted); an unknown key is an error naming the file and the key. Relative paths are
/// relative to the YAML file's folder.
/// </summary>
public sealed record ExperimentConfig
{
    /// <summary>HuggingFace model folder of the base model.</summary>
    public string Model { get; init; } = "";
    public string Device { get; init; } = "cpu";
    public ComputeDtype Dtype { get; init; } = ComputeDtype.Float32;

    /// <summary>General text: train (stage nu and the Fisher) and held-out (general perplexity).</summary>
    public GeneralDataConfig General { get; init; } = new();

    /// <summary>Domain tasks; every domain-stage run trains on one task's train file and is tested on its test file.</summary>
    public IReadOnlyList<DomainTaskConfig> Domain { get; init; } = [];

    /// <summary>Sequential tuning (eq. 15): tasks that every trained method's run on each <see cref="Domain"/> task continues
    /// into, in order, at its configured strength; each such run is also tested on the tasks before it (retention).</summary>
    public IReadOnlyList<DomainTaskConfig> Sequence { get; init; } = [];

    /// <summary>Extra multiple-choice files every run is also tested on (e.g. a general knowledge probe).</summary>
    public IReadOnlyList<ProbeConfig> Probes { get; init; } = [];

    /// <summary>Any of <see cref="ExperimentMethods.All"/>.</summary>
    public IReadOnlyList<string> Methods { get; init; } = [];
    public IReadOnlyList<long> Seeds { get; init; } = [1, 2, 3];

    /// <summary>Hyper-parameters of both stages: keys of <see cref="FinetuneOptions"/> (rank, alpha, lr, batch-size, max-steps...).</summary>
    public JsonObject Train { get; init; } = [];

    /// <summary>Overrides for the general stage (stage nu) only, e.g. its own max-steps.</summary>
    public JsonObject GeneralStage { get; init; } = [];

    /// <summary>Overrides for every domain-stage run.</summary>
    public JsonObject DomainStage { get; init; } = [];

    /// <summary>
    /// Per method: overrides of its domain stage (phi, ewc-lambda, layer-weights, lr...); its SI and LoRA-shape keys also
    /// reach its general stage. An eval-only method (lora-scaled) trains nothing: its overrides hold only adapter-scale.
    /// </summary>
    public IReadOnlyDictionary<string, JsonObject> Overrides { get; init; } = new Dictionary<string, JsonObject>();
    public FisherConfig Fisher { get; init; } = new();
    public EvalConfig Eval { get; init; } = new();
    public SweepConfig Sweeps { get; init; } = new();

    /// <summary>
    /// sbatch options for <c>--launcher slurm</c> (<see cref="SlurmResources"/>): long option names without dashes for every
    /// job, and <c>methods: {METHOD: {...}}</c> for one method's runs. Read only by that launcher.
    /// </summary>
    public JsonObject Slurm { get; init; } = [];

    /// <summary>The YAML file this came from (for messages), or null.</summary>
    [JsonIgnore]
    public string? Source { get; init; }

    internal static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.KebabCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>Keys the experiment sets itself in every run: not allowed in train, general-stage, domain-stage or overrides.</summary>
    public static readonly string[] ReservedTrainKeys =
    [
        "model",
        "data",
        "out",
        "method",
        "stage",
        "task",
        "resume",
        "init-adapter",
        "importance",
        "fisher",
        "general-data",
        "seed",
        "device",
        "dtype",
        "prior-importance",
        "general-data",
    ];

    /// <summary>Reads and checks a YAML file; paths in it become absolute.</summary>
    public static ExperimentConfig Load(string path)
    {
        if (!File.Exists(path))
            throw new AloraException($"{path}: file not found");
        var node = YamlJson.Load(path) ?? throw new AloraException($"{path}: the file is empty");
        if (node is not JsonObject root)
            throw new AloraException($"{path}: expected a mapping of keys (model, general, domain, methods...)");
        return FromJson(root, path);
    }

    /// <summary>Binds a JSON tree (the YAML's) to the record: unknown keys and wrong types are errors naming <paramref name="source"/>.</summary>
    public static ExperimentConfig FromJson(JsonObject root, string source)
    {
        var c = Bind(root, source);
        c.Validate();
        return c;
    }

    /// <summary>Keys and types only (no file is looked at): the schema check of <see cref="FromJson"/>, paths resolved against the source's folder.</summary>
    public static ExperimentConfig Bind(JsonObject root, string source)
    {
        ArgumentNullException.ThrowIfNull(root);
        ConfigSchema.Check(root, typeof(ExperimentConfig), "", source);
        ExperimentConfig c;
        try
        {
            c = root.Deserialize<ExperimentConfig>(Json) ?? throw new AloraException($"{source}: empty configuration");
        }
        catch (JsonException e)
        {
            throw new AloraException($"{source}: '{ConfigSchema.KeyPath(e.Path)}' has the wrong type ({FirstLine(e.Message)})", e);
        }
        var dir = Path.GetDirectoryName(Path.GetFullPath(source)) ?? ".";
        return c.ResolvePaths(dir) with { Source = source };
    }

    static string FirstLine(string s) => s.Split('\n')[0];

    /// <summary>
    /// The same configuration with every relative path made absolute against <paramref name="dir"/>, and hub names
    /// (model: ORG/NAME[@REVISION] where no such folder exists, files as hf://datasets/…) resolved to their paths in
    /// the Hugging Face cache, downloading what it lacks.
    /// </summary>
    public ExperimentConfig ResolvePaths(string dir)
    {
        string R(string p) =>
            string.IsNullOrWhiteSpace(p) ? p
            : HubFiles.IsHubUri(p) ? HubFiles.DataFile(p)
            : Path.GetFullPath(Path.Combine(dir, p));
        string? Rn(string? p) => p is null ? null : R(p);
        string RModel(string p) =>
            !string.IsNullOrWhiteSpace(p) && !Directory.Exists(R(p)) && HubFiles.IsRepoSpec(p) ? HubFiles.ModelFolder(p) : R(p);
        return this with
        {
            Model = RModel(Model),
            General = General with { Train = R(General.Train), Heldout = R(General.Heldout) },
            Domain = Domain.Select(d => d with { Train = R(d.Train), Test = R(d.Test), TestLabels = Rn(d.TestLabels) }).ToList(),
            Sequence = Sequence.Select(d => d with { Train = R(d.Train), Test = R(d.Test), TestLabels = Rn(d.TestLabels) }).ToList(),
            Probes = Probes.Select(p => p with { File = R(p.File), Labels = Rn(p.Labels) }).ToList(),
        };
    }

    string Where => Source ?? "experiment";

    /// <summary>Checks everything that can be checked before the first run (names, files, keys, values).</summary>
    public void Validate()
    {
        AloraException Err(string m) => new($"{Where}: {m}");
        if (string.IsNullOrWhiteSpace(Model))
            throw Err("'model' is required (a HuggingFace model folder, or ORG/NAME[@REVISION] on the hub)");
        if (!Directory.Exists(Model))
            throw Err($"model folder {Model} not found");
        if (Methods.Count == 0)
            throw Err($"'methods' is empty: list any of {string.Join(", ", ExperimentMethods.All)}");
        foreach (var m in Methods.Where(m => !ExperimentMethods.All.Contains(m)))
            throw Err($"unknown method '{m}' in 'methods': expected any of {string.Join(", ", ExperimentMethods.All)}");
        foreach (var g in Methods.GroupBy(m => m).Where(g => g.Count() > 1))
            throw Err($"method '{g.Key}' is listed twice in 'methods'");
        if (Seeds.Count == 0)
            throw Err("'seeds' is empty");
        foreach (var g in Seeds.GroupBy(s => s).Where(g => g.Count() > 1))
            throw Err($"seed {g.Key} is listed twice in 'seeds'");

        _ = SlurmResources.From(this, []); // the slurm mapping's errors now, not at submission
        bool trains = Methods.Any(m => m != ExperimentMethods.Base);
        bool needsGeneral = Methods.Any(ExperimentMethods.NeedsGeneralData);
        if (string.IsNullOrWhiteSpace(General.Heldout))
            throw Err("'general.heldout' is required (held-out general text for perplexity)");
        RequireFile(General.Heldout, "general.heldout");
        if (needsGeneral)
        {
            if (string.IsNullOrWhiteSpace(General.Train))
                throw Err(
                    $"'general.train' is required by {string.Join(", ", Methods.Where(ExperimentMethods.NeedsGeneralData))} (general text for stage nu, the Fisher and replay)"
                );
            RequireFile(General.Train, "general.train");
        }
        if (Domain.Count == 0)
            throw Err("'domain' lists no task: give at least one (name, task, train, test)");
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (d, at) in Domain.Select((d, i) => (d, $"domain[{i}]")).Concat(Sequence.Select((d, i) => (d, $"sequence[{i}]"))))
        {
            if (string.IsNullOrWhiteSpace(d.Task) || !McqDatasets.Tasks.Contains(d.Task))
                throw Err($"{at}.task '{d.Task}' is not one of {string.Join(", ", McqDatasets.Tasks)}");
            if (string.IsNullOrWhiteSpace(d.Name))
                throw Err($"{at}.name is required");
            CheckName(d.Name, $"{at}.name");
            if (!names.Add(d.Name))
                throw Err($"two tasks are named '{d.Name}'");
            RequireFile(d.Test, $"{at}.test");
            if (trains)
                RequireFile(d.Train, $"{at}.train");
        }
        if (Sequence.Count > 0 && !Methods.Any(ExperimentMethods.Continues))
            throw Err($"'sequence' continues trained adapters, and none of {string.Join(", ", Methods)} trains one");
        foreach (var (p, i) in Probes.Select((p, i) => (p, i)))
        {
            string at = $"probes[{i}]";
            if (string.IsNullOrWhiteSpace(p.Task) || !McqDatasets.Tasks.Contains(p.Task))
                throw Err($"{at}.task '{p.Task}' is not one of {string.Join(", ", McqDatasets.Tasks)}");
            if (string.IsNullOrWhiteSpace(p.Name))
                throw Err($"{at}.name is required");
            CheckName(p.Name, $"{at}.name");
            if (!names.Add(p.Name))
                throw Err($"the probe name '{p.Name}' is already used by a task or another probe");
            RequireFile(p.File, $"{at}.file");
        }

        CheckTrainKeys(Train, "train");
        CheckTrainKeys(GeneralStage, "general-stage");
        CheckTrainKeys(DomainStage, "domain-stage");
        foreach (var (m, o) in Overrides)
        {
            if (!ExperimentMethods.All.Contains(m))
                throw Err($"overrides: unknown method '{m}': expected any of {string.Join(", ", ExperimentMethods.All)}");
            if (m == ExperimentMethods.Base)
                throw Err("overrides: 'base' is not trained, so it has nothing to override");
            if (ExperimentMethods.EvalOnly(m))
            {
                // an eval-only method trains nothing: its overrides are its evaluation's settings, its adapter is trained as its method's
                foreach (var (k, _) in o.Where(kv => !ExperimentMethods.EvalOnlyKeys.Contains(kv.Key)))
                    throw Err(
                        $"unknown key 'overrides.{m}.{k}': {m} trains nothing (it evaluates {ExperimentMethods.ScalesAdapterOf(m)}'s adapter, "
                            + $"whose settings are overrides.{ExperimentMethods.ScalesAdapterOf(m)}); known: {string.Join(", ", ExperimentMethods.EvalOnlyKeys)}"
                    );
                ExperimentPlanner.AdapterScale(this, m);
            }
            else
                CheckTrainKeys(o, $"overrides.{m}");
        }
        if (Fisher.Samples < 1)
            throw Err($"fisher.samples must be at least 1 (got {Fisher.Samples})");
        if (Fisher.MaxLength is < 2)
            throw Err($"fisher.max-length must be at least 2 (got {Fisher.MaxLength})");
        if (Eval.Limit is < 1)
            throw Err($"eval.limit must be at least 1 (got {Eval.Limit})");
        if (Eval.BatchSize < 1)
            throw Err($"eval.batch-size must be at least 1 (got {Eval.BatchSize})");
        // the evaluation comes after every run's training: a bad window must fail here, not an hour later
        if (Eval.MaxLength is < 1)
            throw Err($"eval.max-length must be at least 1 (got {Eval.MaxLength})");
        if (Eval.Stride is < 1)
            throw Err($"eval.stride must be at least 1 (got {Eval.Stride})");
        if (Eval.Stride > Eval.MaxLength)
            throw Err($"eval.stride {Eval.Stride} must not exceed eval.max-length {Eval.MaxLength}");

        if (Sweeps.Any)
        {
            if (!Methods.Contains(ExperimentMethods.Alora))
                throw Err("sweeps apply to alora, which is not in 'methods'");
            if (Sweeps.Phi.Any(v => !(v >= 0)))
                throw Err("sweeps.phi: every value must be >= 0");
            if (Sweeps.Xi.Any(v => !(v > 0)))
                throw Err("sweeps.xi: every value must be > 0");
            if (Sweeps.Rank.Any(v => v < 1))
                throw Err("sweeps.rank: every value must be >= 1");
        }
        if (Sweeps.LayerWeights.Count > 0 && !Methods.Contains(ExperimentMethods.Alora))
            throw Err("sweeps.layer-weights apply to alora, which is not in 'methods'");
        if (Sweeps.LayerWeights.Distinct().Count() != Sweeps.LayerWeights.Count)
            throw Err("sweeps.layer-weights: a weighting is listed twice");
        if (Sweeps.LayerWeightStrengths.Count > 0 && Sweeps.LayerWeights.Count == 0)
            throw Err("sweeps.layer-weight-strengths: no sweeps.layer-weights to draw at them");
        if (Sweeps.LayerWeightStrengths.Any(v => !(v >= 0) || !double.IsFinite(v)))
            throw Err("sweeps.layer-weight-strengths: every value must be a finite number >= 0");
        if (Sweeps.LayerWeightStrengths.Distinct().Count() != Sweeps.LayerWeightStrengths.Count)
            throw Err("sweeps.layer-weight-strengths: a value is listed twice");
        foreach (var (m, values) in Sweeps.Strength)
        {
            if (!Methods.Contains(m))
                throw Err($"sweeps.strength.{m}: '{m}' is not in 'methods'");
            if (!ExperimentMethods.HasStrength(m))
                throw Err(
                    $"sweeps.strength.{m}: {m} has no strength to vary (methods with one: {string.Join(", ", ExperimentMethods.All.Where(ExperimentMethods.HasStrength))})"
                );
            if (values.Count == 0 || values.Any(v => !double.IsFinite(v) || v < 0))
                throw Err($"sweeps.strength.{m}: list one or more finite values >= 0");
            if (values.Distinct().Count() != values.Count)
                throw Err($"sweeps.strength.{m}: a value is listed twice");
        }
        // Every run's options must bind and validate now, not after an hour of training.
        // (an eval-only method's run is its scaled method's: lora-scaled checks lora-mu's settings)
        foreach (var m in Methods.Where(m => m != ExperimentMethods.Base).Select(ExperimentMethods.Trained).Distinct())
        {
            try
            {
                // the method's overrides reach its general stage for the SI and shape keys, so both are checked
                ExperimentPlanner.TrainOptions(this, m, Stage.Domain, []).ValidateSettings();
                ExperimentPlanner.TrainOptions(this, m, Stage.General, []).ValidateSettings();
            }
            catch (AloraException e) when (!e.Message.StartsWith(Where, StringComparison.Ordinal))
            {
                throw new AloraException($"{Where}: the settings of {m} (train, domain-stage, overrides.{m}): {e.Message}", e);
            }
        }
    }

    void RequireFile(string path, string key)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new AloraException($"{Where}: '{key}' is required");
        if (!File.Exists(path))
            throw new AloraException($"{Where}: {key}: file {path} not found");
    }

    void CheckName(string name, string key)
    {
        if (name.Any(ch => !(char.IsLetterOrDigit(ch) || ch is '-' or '_' or '.' or '/')))
            throw new AloraException(
                $"{Where}: {key} '{name}' may hold only letters, digits, '-', '_', '.' and '/' (it names run folders and CSV rows)"
            );
    }

    void CheckTrainKeys(JsonObject o, string section)
    {
        var known = OptionCatalog.Options.Select(o => o.Key).ToList();
        foreach (var (k, _) in o)
        {
            if (ReservedTrainKeys.Contains(k))
                throw new AloraException($"{Where}: {section}.{k}: '{k}' is set by the experiment for every run and cannot be given here");
            if (!known.Contains(k))
                throw new AloraException(
                    $"{Where}: unknown key '{section}.{k}' (known: {string.Join(", ", known.Where(x => !ReservedTrainKeys.Contains(x)))})"
                        + (
                            ExperimentMethods.EvalOnlyKeys.Contains(k)
                                ? $"; {k} is a setting of {string.Join(", ", ExperimentMethods.All.Where(ExperimentMethods.EvalOnly))} (overrides.{ExperimentMethods.All.First(ExperimentMethods.EvalOnly)}.{k})"
                                : ""
                        )
                );
        }
    }
}

public sealed record GeneralDataConfig
{
    /// <summary>General text for stage nu and for the Fisher (text, JSONL text/input_ids, Parquet).</summary>
    public string Train { get; init; } = "";

    /// <summary>Held-out general text for perplexity.</summary>
    public string Heldout { get; init; } = "";
}

public sealed record DomainTaskConfig
{
    /// <summary>Name in run folders, the CSV and the report.</summary>
    public string Name { get; init; } = "";

    /// <summary>sciq | piqa | medmcqa | mcq</summary>
    public string Task { get; init; } = "";
    public string Train { get; init; } = "";
    public string Test { get; init; } = "";

    /// <summary>PIQA labels of the test file, when its rows have no label (default: X-labels.lst beside X.jsonl; the train file always uses that default).</summary>
    public string? TestLabels { get; init; }
}

public sealed record ProbeConfig
{
    public string Name { get; init; } = "";
    public string Task { get; init; } = "mcq";
    public string File { get; init; } = "";
    public string? Labels { get; init; }
}

public sealed record FisherConfig
{
    /// <summary>One Fisher per seed (its samples drawn with that seed), or one for all seeds (drawn with the first).</summary>
    public bool PerSeed { get; init; } = true;
    public int Samples { get; init; } = 256;

    /// <summary>Tokens per sequence; default: the train section's max-length.</summary>
    public int? MaxLength { get; init; }
}

public sealed record EvalConfig
{
    /// <summary>Score only the first N held-out documents and the first N items of each test file.</summary>
    public int? Limit { get; init; }

    /// <summary>Perplexity windows or choice sequences per forward pass.</summary>
    public int BatchSize { get; init; } = 8;

    /// <summary>Perplexity window (default: the model's context).</summary>
    public int? MaxLength { get; init; }
    public int? Stride { get; init; }
}
