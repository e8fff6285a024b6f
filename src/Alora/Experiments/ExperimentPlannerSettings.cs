using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Alora.Eval;
using Alora.Recipes;
using Alora.Runtime;

namespace Alora.Experiments;

/// <summary>What the planner derives from the configuration: a run's options, its evaluation, its identity and name, and the job list it builds.</summary>
public static partial class ExperimentPlanner
{
    /// <summary>
    /// beta of an eval-only method: overrides.METHOD.adapter-scale, else <see cref="ExperimentMethods.DefaultAdapterScale"/>;
    /// a finite number of at least 0 (above 1 extrapolates past the adapter).
    /// </summary>
    public static double AdapterScale(ExperimentConfig c, string method)
    {
        ArgumentNullException.ThrowIfNull(c);
        var key = ExperimentMethods.AdapterScaleKey;
        if (!c.Overrides.TryGetValue(method, out var o) || !o.ContainsKey(key))
            return ExperimentMethods.DefaultAdapterScale;
        var at = $"{c.Source ?? "experiment"}: overrides.{method}.{key}";
        double v;
        try
        {
            v = o[key] is JsonValue j ? j.GetValue<double>() : throw new FormatException();
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new AloraException($"{at} must be a number (got {o[key]?.ToJsonString() ?? "null"})", e);
        }
        if (!double.IsFinite(v) || v < 0)
            throw new AloraException($"{at} must be a finite number of at least 0 (got {v.ToString(CultureInfo.InvariantCulture)})");
        return v;
    }

    /// <summary>Whether a domain-stage option is given for the method (train, domain-stage, its overrides or <paramref name="extra"/>), not left at its default.</summary>
    static bool Stated(ExperimentConfig c, string method, string key, JsonObject extra) =>
        c.Train.ContainsKey(key)
        || c.DomainStage.ContainsKey(key)
        || (c.Overrides.TryGetValue(method, out var o) && o.ContainsKey(key))
        || extra.ContainsKey(key);

    static List<double> WithConfigured(IReadOnlyList<double> values, double configured) =>
        values.Contains(configured) ? [.. values] : [.. values, configured];

    /// <summary>alora's own override of a general-stage key (xi, rank), which wins over the train section.</summary>
    static double? GeneralSetting(ExperimentConfig c, string key) =>
        c.Overrides.TryGetValue(ExperimentMethods.Alora, out var o) && o[key] is JsonValue v ? v.Deserialize<double?>() : null;

    /// <summary>
    /// The recipe's options for a method's stage: defaults, then train, then general-stage or domain-stage, then
    /// (domain stage) the method's overrides, then <paramref name="extra"/>. The experiment's own fields are set by the caller.
    /// </summary>
    public static FinetuneOptions TrainOptions(ExperimentConfig c, string method, Stage stage, JsonObject extra)
    {
        ArgumentNullException.ThrowIfNull(c);
        var j = OptionCatalog.Defaults();
        Merge(j, c.Train);
        Merge(j, stage == Stage.General ? c.GeneralStage : c.DomainStage);
        if (stage == Stage.Domain && c.Overrides.TryGetValue(method, out var o))
            Merge(j, o);
        Merge(j, extra);
        var sections = stage == Stage.General ? "train, general-stage" : $"train, domain-stage, overrides.{method}";
        return OptionCatalog.Bind(j, $"{c.Source ?? "experiment"}: the settings of {method} ({sections})");
    }

    static void Merge(JsonObject into, JsonObject from)
    {
        foreach (var (k, v) in from)
            into[k] = v?.DeepClone();
    }

    static EvalSuiteSpec EvalSpec(ExperimentConfig c, IEnumerable<DomainTaskConfig> tasks) =>
        new()
        {
            Corpora = [new SuiteCorpus("general", c.General.Heldout)],
            Tasks =
            [
                .. tasks.Select(t => new SuiteTask(t.Name, t.Task, t.Test, t.TestLabels)),
                .. c.Probes.Select(p => new SuiteTask(p.Name, p.Task, p.File, p.Labels)),
            ],
            Limit = c.Eval.Limit,
            Perplexity = new PerplexityOptions
            {
                MaxLength = c.Eval.MaxLength,
                Stride = c.Eval.Stride,
                BatchSize = c.Eval.BatchSize,
            },
            McqBatchSize = c.Eval.BatchSize,
        };

    /// <summary>What a training job computes, without where its files go: the options with the paths of other runs replaced by their names.</summary>
    static JsonObject Identity(string kind, FinetuneOptions o, IReadOnlyList<string> deps)
    {
        var opts = (o with { Out = "", Resume = false, InitAdapter = null, Fisher = null, Importance = null }).ToJson();
        // an option only other methods read does not make this job another computation (and a method added later, with
        // options of its own, leaves the identities, and so the finished run folders, of the others as they were)
        foreach (var key in opts.Select(kv => kv.Key).Where(k => MethodRegistry.Readers(k) is { Count: > 0 } r && !r.Contains(o.Method)).ToList())
            opts.Remove(key);
        // TensorBoard files are a view of metrics.jsonl, not part of what the job computes
        opts.Remove("tensorboard");
        return new JsonObject
        {
            ["kind"] = kind,
            ["options"] = opts,
            ["depends_on"] = new JsonArray(deps.Select(d => (JsonNode)JsonValue.Create(d)!).ToArray()),
        };
    }

    /// <summary>A number as it appears in run names: 0.001, 1e-05, 10.</summary>
    public static string Num(double v) => v.ToString("G6", CultureInfo.InvariantCulture).ToLowerInvariant();

    sealed class Builder(string outDir)
    {
        public readonly List<ExperimentJob> Jobs = [];
        readonly Dictionary<string, string> _byIdentity = new(StringComparer.Ordinal);

        public string RunDir(string name) => Path.Combine(outDir, "runs", name);

        public bool Taken(string name) => Jobs.Any(j => j.Name == name);

        public bool Has(string name, JsonObject identity) => _byIdentity.TryGetValue(identity.ToJsonString(), out var n) && n == name;

        /// <summary>Adds the job, or returns the name of the job that already computes the same thing.</summary>
        public string Add(string name, ExperimentJob job)
        {
            var key = job.Identity.ToJsonString();
            if (_byIdentity.TryGetValue(key, out var existing))
            {
                // a domain run planned for an eval-only method alone is evaluated once its own method asks for it
                int i = Jobs.FindIndex(j => j.Name == existing);
                if (Jobs[i].Eval is null && job.Eval is not null)
                    Jobs[i] = Jobs[i] with { Eval = job.Eval };
                return existing;
            }
            var unique = name;
            for (int i = 2; Taken(unique); i++)
                unique = $"{name}-{i}";
            var train = job.Train is null ? null : job.Train with { Out = RunDir(unique) };
            Jobs.Add(job with { Name = unique, Train = train });
            _byIdentity[key] = unique;
            return unique;
        }
    }
}
