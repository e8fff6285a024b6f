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
public static partial class ExperimentPlanner
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
                    if (ExperimentMethods.Continues(m))
                        entries.AddRange(Sequence(c, b, m, seed, t, run));
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
                // sweeps.layer-weights: alora with each other weighting at each of its strengths (its own curve)
                if (c.Sweeps.LayerWeights.Count > 0)
                {
                    var main = TrainOptions(c, ExperimentMethods.Alora, Stage.Domain, []);
                    var key = ExperimentMethods.StrengthKey(ExperimentMethods.Alora, main)!;
                    var strengths =
                        c.Sweeps.LayerWeightStrengths.Count > 0
                            ? c.Sweeps.LayerWeightStrengths
                            : WithConfigured(
                                c.Sweeps.Strength.GetValueOrDefault(ExperimentMethods.Alora) ?? [],
                                ExperimentMethods.Strength(ExperimentMethods.Alora, main)!.Value
                            );
                    foreach (var w in c.Sweeps.LayerWeights.Where(w => w != main.LayerWeights))
                    foreach (var v in strengths)
                    {
                        var name = EnumNames<Methods.LayerWeighting>.Name(w);
                        var extra = new JsonObject { ["layer-weights"] = name, [key] = v };
                        var run = Domain(c, b, ExperimentMethods.Alora, seed, t, [], extra, $"{name}-{key}{Num(v)}");
                        entries.Add(new ResultEntry(ExperimentMethods.Alora, seed, t.Name, run, "layer-weights", v));
                    }
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
                // the main run of a method that records importance records its domain stage too when a sequence continues it
                RecordImportance = RecordsForSequence(c, method) && tag.Length == 0 && domainExtra.Count == 0,
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
            return b.Add(name, DomainJob(name, method, seed, task.Name, deps, o, evaluate ? EvalSpec(c, [task]) : null));
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
}
