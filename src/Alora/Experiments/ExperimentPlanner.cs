using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Alora.Eval;
using Alora.Recipes;
using Alora.Runtime;

namespace Alora.Experiments;

/// <summary>
/// Turns a configuration into jobs, sharing what methods share: per seed one general-stage run (LoRA with SI
/// recording) serves lora-nu-mu (continued without penalty), alora, alora-no-layer and ewc-nu (continued with a
/// penalty; ewc-nu computes its Fisher at nu itself, on general.train); one Fisher per seed (or one in all) serves
/// ewc-lora; a method that reads the general text itself (replay, ewc-nu) gets general.train as --general-data; base
/// is evaluated once, untrained; an eval-only method (lora-scaled) evaluates the adapter of the domain run of the
/// method it scales (lora-mu), which is planned, without its own evaluation, when that method is not in the config. Two
/// requests for the same computation (a sweep value equal to the configured one, alora-no-layer's general
/// stage) become one job.
/// </summary>
public static class ExperimentPlanner
{
    /// <summary>Keys of alora's (or alora-no-layer's) overrides that shape the importance recording of the general stage.</summary>
    static readonly string[] SiKeys = ["xi", "si-variant", "clamp-omega", "omega-dtype"];

    /// <summary>Keys of a method's overrides that shape the adapter its general stage creates.</summary>
    static readonly string[] ShapeKeys = ["rank", "alpha", "target-modules", "rslora"];

    public static ExperimentPlan Plan(ExperimentConfig c, string outDir)
    {
        ArgumentNullException.ThrowIfNull(c);
        outDir = Path.GetFullPath(outDir);
        var b = new Builder(outDir);
        var entries = new List<ResultEntry>();

        if (c.Methods.Contains(ExperimentMethods.Base))
        {
            var name = b.Add(
                "base",
                new ExperimentJob
                {
                    Name = "base",
                    Kind = JobKind.Base,
                    Method = ExperimentMethods.Base,
                    Eval = EvalSpec(c, c.Domain),
                    Identity = new JsonObject
                    {
                        ["kind"] = "base",
                        ["model"] = c.Model,
                        ["device"] = c.Device,
                        ["dtype"] = EnumNames<ComputeDtype>.Name(c.Dtype),
                    },
                }
            );
            foreach (var seed in c.Seeds)
            foreach (var t in c.Domain)
                entries.Add(new ResultEntry(ExperimentMethods.Base, seed, t.Name, name));
        }

        string? sharedFisher = null;
        foreach (var seed in c.Seeds)
        {
            foreach (var t in c.Domain)
            {
                foreach (var m in c.Methods.Where(m => m != ExperimentMethods.Base))
                {
                    if (ExperimentMethods.ScalesAdapterOf(m) is { } of)
                    {
                        // evaluated only if 'of' is in the config itself (the Builder adds the evaluation when it comes)
                        var adapterRun = Domain(c, b, of, seed, t, [], [], "", evaluate: false);
                        entries.Add(new ResultEntry(m, seed, t.Name, Scaled(c, b, m, seed, t, adapterRun)));
                        continue;
                    }
                    var run = Domain(c, b, m, seed, t, [], [], "");
                    entries.Add(new ResultEntry(m, seed, t.Name, run));
                }
                foreach (var (m, values) in c.Sweeps.Strength)
                {
                    if (ExperimentMethods.ScalesAdapterOf(m) is { } scaled)
                    {
                        // an eval-only method's strength is its beta: one evaluation of the same adapter per value
                        var adapterRun = Domain(c, b, scaled, seed, t, [], [], "", evaluate: false);
                        foreach (var v in WithConfigured(values, AdapterScale(c, m)))
                            entries.Add(new ResultEntry(m, seed, t.Name, Scaled(c, b, m, seed, t, adapterRun, v), "strength", v));
                        continue;
                    }
                    // the configured strength is the method's main run; the others are its curve's further points
                    var main = TrainOptions(c, m, Stage.Domain, []);
                    var key = ExperimentMethods.StrengthKey(m, main)!;
                    var configured = ExperimentMethods.Strength(m, main)!.Value;
                    foreach (var v in WithConfigured(values, configured))
                        entries.Add(
                            new ResultEntry(
                                m,
                                seed,
                                t.Name,
                                v == configured
                                    ? Domain(c, b, m, seed, t, [], [], "")
                                    : Domain(c, b, m, seed, t, [], new JsonObject { [key] = v }, key + Num(v)),
                                "strength",
                                v
                            )
                        );
                }
                // each sweep also holds the configured value (its run is the main alora run, shared)
                if (c.Sweeps.Phi.Count > 0)
                    foreach (var v in WithConfigured(c.Sweeps.Phi, TrainOptions(c, ExperimentMethods.Alora, Stage.Domain, []).Phi))
                        entries.Add(
                            new ResultEntry(
                                ExperimentMethods.Alora,
                                seed,
                                t.Name,
                                Domain(c, b, ExperimentMethods.Alora, seed, t, [], new JsonObject { ["phi"] = v }, "phi" + Num(v)),
                                "phi",
                                v
                            )
                        );
                if (c.Sweeps.Xi.Count > 0)
                    foreach (
                        var v in WithConfigured(
                            c.Sweeps.Xi,
                            GeneralSetting(c, "xi") ?? TrainOptions(c, ExperimentMethods.Alora, Stage.General, []).Xi
                        )
                    )
                        entries.Add(
                            new ResultEntry(
                                ExperimentMethods.Alora,
                                seed,
                                t.Name,
                                Domain(c, b, ExperimentMethods.Alora, seed, t, new JsonObject { ["xi"] = v }, [], "xi" + Num(v)),
                                "xi",
                                v
                            )
                        );
                if (c.Sweeps.Rank.Count > 0)
                    foreach (
                        var v in WithConfigured(
                            c.Sweeps.Rank.Select(r => (double)r).ToList(),
                            GeneralSetting(c, "rank") ?? TrainOptions(c, ExperimentMethods.Alora, Stage.General, []).Rank
                        )
                    )
                        entries.Add(
                            new ResultEntry(
                                ExperimentMethods.Alora,
                                seed,
                                t.Name,
                                Domain(c, b, ExperimentMethods.Alora, seed, t, new JsonObject { ["rank"] = (int)v }, [], "r" + Num(v)),
                                "rank",
                                v
                            )
                        );
            }
        }
        return new ExperimentPlan(outDir, b.Jobs, entries);

        string Domain(
            ExperimentConfig c,
            Builder b,
            string method,
            long seed,
            DomainTaskConfig task,
            JsonObject generalExtra,
            JsonObject domainExtra,
            string tag,
            bool evaluate = true
        )
        {
            var deps = new List<string>();
            var o = TrainOptions(c, method, Stage.Domain, domainExtra) with
            {
                Model = c.Model,
                Device = c.Device,
                Dtype = c.Dtype,
                Seed = seed,
                Resume = true,
                Method = ExperimentMethods.RecipeMethod(method),
                Stage = Stage.Domain,
                Data = task.Train,
                Task = task.Task,
                GeneralData = ExperimentMethods.ReadsGeneralData(method) ? c.General.Train : null,
            };
            if (ExperimentMethods.ContinuesGeneral(method))
            {
                var general = General(c, b, method, seed, generalExtra, tag);
                deps.Add(general);
                o = o with { InitAdapter = b.RunDir(general) };
            }
            else if (generalExtra.Count > 0)
            {
                throw new InvalidOperationException("general-stage settings for a method without a general stage");
            }
            if (MethodRegistry.Readers("fisher-samples").Contains(o.Method) && !Stated(c, method, "fisher-samples", domainExtra))
                o = o with { FisherSamples = c.Fisher.Samples }; // ewc-nu's Fisher at nu: the fisher section's samples unless its settings state them
            if (ExperimentMethods.NeedsFisher(method))
            {
                var fisher = Fisher(c, b, method, seed, o);
                deps.Add(fisher);
                o = o with { Fisher = Path.Combine(b.RunDir(fisher), "fisher.safetensors") };
            }
            var name = $"{method}-{task.Name.Replace('/', '-')}-s{seed}" + (tag.Length > 0 ? "-" + tag : "");
            var identity = Identity("domain", o, deps);
            return b.Add(
                name,
                new ExperimentJob
                {
                    Name = name,
                    Kind = JobKind.Domain,
                    Method = method,
                    Seed = seed,
                    Task = task.Name,
                    DependsOn = deps,
                    Train = o,
                    Eval = evaluate ? EvalSpec(c, [task]) : null,
                    Identity = identity,
                }
            );
        }

        // an eval-only method's job: the adapter of a domain run at beta, on that run's evaluation
        string Scaled(ExperimentConfig c, Builder b, string method, long seed, DomainTaskConfig task, string adapterRun, double? at = null)
        {
            double beta = at ?? AdapterScale(c, method);
            var name = $"{method}-{task.Name.Replace('/', '-')}-s{seed}-beta{Num(beta)}";
            return b.Add(
                name,
                new ExperimentJob
                {
                    Name = name,
                    Kind = JobKind.Scaled,
                    Method = method,
                    Seed = seed,
                    Task = task.Name,
                    DependsOn = [adapterRun],
                    AdapterOf = adapterRun,
                    AdapterScale = beta,
                    Eval = EvalSpec(c, [task]),
                    Identity = new JsonObject
                    {
                        ["kind"] = "scaled",
                        ["model"] = c.Model,
                        ["device"] = c.Device,
                        ["dtype"] = EnumNames<ComputeDtype>.Name(c.Dtype),
                        ["adapter_of"] = adapterRun,
                        ["adapter_scale"] = beta,
                    },
                }
            );
        }

        string General(ExperimentConfig c, Builder b, string method, long seed, JsonObject extra, string tag)
        {
            // A method that continues the general run without recording (lora-nu-mu) takes the SI settings of a method that
            // records, so that it shares that method's run: the last registered one the config lists (alora before alora-no-layer).
            var si =
                ExperimentMethods.Find(method)?.RecordsImportance == true
                    ? method
                    : MethodRegistry.ExperimentMethods.LastOrDefault(m => m.RecordsImportance && c.Methods.Contains(m.Name))?.Name;
            var keys = new JsonObject();
            if (si is not null && c.Overrides.TryGetValue(si, out var siOverrides))
                foreach (var k in SiKeys.Where(siOverrides.ContainsKey))
                    keys[k] = siOverrides[k]?.DeepClone();
            if (c.Overrides.TryGetValue(method, out var own))
                foreach (var k in ShapeKeys.Where(own.ContainsKey))
                    keys[k] = own[k]?.DeepClone();
            foreach (var (k, v) in extra)
                keys[k] = v?.DeepClone();
            // the shared run records importance (ALoRA's general stage); methods that only continue it ignore the file
            var o = TrainOptions(c, ExperimentMethods.Alora, Stage.General, keys) with
            {
                Model = c.Model,
                Device = c.Device,
                Dtype = c.Dtype,
                Seed = seed,
                Resume = true,
                Method = FinetuneMethod.Alora,
                Stage = Stage.General,
                Data = c.General.Train,
                Task = null,
            };
            var identity = Identity("general", o, []);
            var baseName = $"general-s{seed}";
            // the first general run of a seed is general-sN; variants are named by the sweep or the method that asked
            var name = b.Has(baseName, identity) || !b.Taken(baseName) ? baseName : baseName + "-" + (tag.Length > 0 ? tag : method);
            return b.Add(
                name,
                new ExperimentJob
                {
                    Name = name,
                    Kind = JobKind.General,
                    Seed = seed,
                    Train = o,
                    Identity = identity,
                }
            );
        }

        string Fisher(ExperimentConfig c, Builder b, string method, long seed, FinetuneOptions domain)
        {
            long fisherSeed = c.Fisher.PerSeed ? seed : c.Seeds[0];
            var general = TrainOptions(c, method, Stage.General, []);
            var request = new FisherRequest
            {
                Model = c.Model,
                Data = c.General.Train,
                Samples = c.Fisher.Samples,
                MaxLength = c.Fisher.MaxLength ?? general.MaxLength,
                Seed = fisherSeed,
                TargetModules = domain.TargetModules,
                Device = c.Device,
                Dtype = c.Dtype,
            };
            var identity = new JsonObject { ["kind"] = "fisher", ["request"] = JsonSerializer.SerializeToNode(request, ExperimentConfig.Json) };
            var name = c.Fisher.PerSeed ? $"fisher-s{seed}" : "fisher";
            if (!c.Fisher.PerSeed && sharedFisher is not null)
                return sharedFisher;
            name = b.Add(
                name,
                new ExperimentJob
                {
                    Name = name,
                    Kind = JobKind.Fisher,
                    Seed = fisherSeed,
                    Fisher = request,
                    Identity = identity,
                }
            );
            if (!c.Fisher.PerSeed)
                sharedFisher = name;
            return name;
        }
    }

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
