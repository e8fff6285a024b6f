using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Alora.IO;
using Alora.Methods;
using Alora.Models;

namespace Alora.Experiments;

/// <summary>
/// Per-run result.json files and the rows of the tidy results.csv collected from them (the file itself is written and
/// read back, for the report, by <see cref="ResultsCsvFile"/>).
/// </summary>
public static class ExperimentResults
{
    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The fixed columns of results.csv, before the probes' columns.</summary>
    public static readonly string[] Columns = ResultsCsvFile.Columns;

    /// <summary>DIR/runs/NAME/result.json: the job, its resolved configuration, its metrics, its evaluation and its costs (with those of the runs it continues).</summary>
    public static JsonObject WriteRunResult(ExperimentPlan plan, ExperimentJob job)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(job);
        var dir = plan.RunDir(job.Name);
        var o = new JsonObject
        {
            ["name"] = job.Name,
            ["kind"] = job.Kind.ToString().ToLowerInvariant(),
            ["method"] = job.Method,
            ["seed"] = job.Seed,
            ["task"] = job.Task,
            ["adapter_of"] = job.AdapterOf,
            ["adapter_scale"] = job.AdapterScale,
            ["depends_on"] = new JsonArray(job.DependsOn.Select(d => (JsonNode)JsonValue.Create(d)!).ToArray()),
            ["config"] = ReadJson(Path.Combine(dir, "config.json"))
                ?? (job.Fisher is null ? null : JsonSerializer.SerializeToNode(job.Fisher, ExperimentConfig.Json)),
        };
        var summary = ReadJson(Path.Combine(dir, "summary.json"));
        o["summary"] = summary;
        o["metrics"] = MetricsSummary(dir);
        var costs = new JsonObject();
        if (summary is not null)
        {
            costs["train_seconds"] = summary["train_seconds"]?.DeepClone();
            costs["peak_memory_bytes"] = summary["peak_working_set_bytes"]?.DeepClone();
        }
        if (job.Kind == JobKind.General)
            AddImportanceCosts(costs, dir);
        if (job.Kind == JobKind.Fisher && ReadJson(Path.Combine(dir, "fisher.json")) is { } f)
        {
            costs["fisher_seconds"] = f["seconds"]?.DeepClone();
            costs["fisher_bytes"] = f["bytes"]?.DeepClone();
            costs["peak_memory_bytes"] = f["peak_memory_bytes"]?.DeepClone();
        }
        // a scaled job costs the training of the adapter it evaluates (and what that run continues)
        var deps = job.DependsOn.Select(plan.Job).SelectMany(d => d.Kind == JobKind.Domain ? [d, .. d.DependsOn.Select(plan.Job)] : new[] { d });
        foreach (var dep in deps)
        {
            var depDir = plan.RunDir(dep.Name);
            if (dep.Kind == JobKind.Domain && ReadJson(Path.Combine(depDir, "summary.json")) is { } ds)
            {
                costs["train_seconds"] = ds["train_seconds"]?.DeepClone();
                costs["peak_memory_bytes"] = ds["peak_working_set_bytes"]?.DeepClone();
            }
            else if (dep.Kind == JobKind.General)
            {
                costs["general_stage_seconds"] = ReadJson(Path.Combine(depDir, "summary.json"))?["train_seconds"]?.DeepClone();
                AddImportanceCosts(costs, depDir);
            }
            else if (dep.Kind == JobKind.Fisher && ReadJson(Path.Combine(depDir, "fisher.json")) is { } df)
            {
                costs["fisher_seconds"] = df["seconds"]?.DeepClone();
                costs["fisher_bytes"] = df["bytes"]?.DeepClone();
            }
        }
        if (ReadJson(Path.Combine(dir, "eval.json")) is { } ev)
        {
            costs["eval_seconds"] = ev["seconds"]?.DeepClone();
            o["eval"] = new JsonObject
            {
                ["general_ppl"] = ev["perplexity"]?["general"]?["perplexity"]?.DeepClone(),
                ["general_word_perplexity"] = ev["perplexity"]?["general"]?["word_perplexity"]?.DeepClone(),
                ["general_bits_per_byte"] = ev["perplexity"]?["general"]?["bits_per_byte"]?.DeepClone(),
                ["tasks"] = ev["tasks"] is JsonObject tasks
                    ? new JsonObject(
                        tasks.Select(kv =>
                            KeyValuePair.Create(
                                kv.Key,
                                (JsonNode?)
                                    new JsonObject
                                    {
                                        ["acc"] = kv.Value?["acc"]?.DeepClone(),
                                        ["acc_norm"] = kv.Value?["acc_norm"]?.DeepClone(),
                                        ["n"] = kv.Value?["n"]?.DeepClone(),
                                    }
                            )
                        )
                    )
                    : null,
            };
        }
        o["costs"] = costs;
        o["layer_weights"] = ReadJson(Path.Combine(dir, "layer_weights.json"));
        if (job.Kind == JobKind.General)
            o["importance_norms"] = ImportanceNorms(dir);
        AtomicFile.WriteAllText(Path.Combine(dir, "result.json"), o.ToJsonString(Indented) + "\n");
        return o;
    }

    static void AddImportanceCosts(JsonObject costs, string generalDir)
    {
        var path = Path.Combine(generalDir, "importance.safetensors");
        if (!File.Exists(path))
            return;
        var f = SafeTensorsFile.Open(path);
        var modules = f.Metadata.GetValueOrDefault("modules", "").Split(',', StringSplitOptions.RemoveEmptyEntries);
        costs["si_record_seconds"] = double.TryParse(
            f.Metadata.GetValueOrDefault("record_seconds"),
            NumberStyles.Float,
            CultureInfo.InvariantCulture,
            out var s
        )
            ? s
            : null;
        costs["omega_bytes"] = modules.Where(f.Entries.ContainsKey).Sum(m => f.Entries[m].End - f.Entries[m].Begin);
        costs["importance_file_bytes"] = FileSize.Of(path);
    }

    /// <summary>||Omega_m||_2 per module, computed once and kept in importance_norms.json (the file can be gigabytes).</summary>
    public static JsonObject? ImportanceNorms(string generalDir)
    {
        var cache = Path.Combine(generalDir, "importance_norms.json");
        var path = Path.Combine(generalDir, "importance.safetensors");
        if (!File.Exists(path))
            return null;
        if (ReadJson(cache) is JsonObject cached && File.GetLastWriteTimeUtc(cache) >= File.GetLastWriteTimeUtc(path))
            return cached;
        using var imp = ImportanceFile.Load(path);
        var norms = imp.Norms();
        var o = new JsonObject(imp.Modules.Select((m, i) => KeyValuePair.Create(m, (JsonNode?)JsonValue.Create(norms[i]))));
        AtomicFile.WriteAllText(cache, o.ToJsonString(Indented) + "\n");
        return o;
    }

    static JsonObject MetricsSummary(string dir)
    {
        var rows = ReadMetrics(dir);
        var o = new JsonObject { ["steps"] = rows.Count };
        if (rows.Count == 0)
            return o;
        o["first_task_loss"] = rows[0].TaskLoss;
        o["final_task_loss"] = rows[^1].TaskLoss;
        o["final_loss"] = rows[^1].Loss;
        o["final_penalty"] = rows[^1].Penalty;
        o["mean_tokens_per_second"] = rows.Average(r => r.TokensPerSecond);
        return o;
    }

    /// <summary>One step of metrics.jsonl: the task loss, the scaled penalty (alora_penalty or ewc_penalty, 0 without one) and the total.</summary>
    public sealed record MetricRow(long Step, double Loss, double TaskLoss, double? Penalty, double TokensPerSecond);

    public static List<MetricRow> ReadMetrics(string runDir)
    {
        var path = Path.Combine(runDir, "metrics.jsonl");
        if (!File.Exists(path))
            return [];
        var list = new List<MetricRow>();
        foreach (var line in File.ReadLines(path).Where(l => l.Length > 0))
        {
            var j = JsonNode.Parse(line)!;
            double? pen = j["alora_penalty"]?.GetValue<double>() ?? j["ewc_penalty"]?.GetValue<double>();
            list.Add(
                new MetricRow(
                    j["step"]!.GetValue<long>(),
                    j["loss"]!.GetValue<double>(),
                    j["task_loss"]!.GetValue<double>(),
                    pen,
                    j["tokens_per_second"]?.GetValue<double>() ?? 0
                )
            );
        }
        return list;
    }

    /// <summary>Rows of results.csv from the runs' result.json files, in the plan's order.</summary>
    public static List<ResultRow> Collect(ExperimentPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var cache = new Dictionary<string, JsonNode?>();
        JsonNode? Result(string run) => cache.TryGetValue(run, out var r) ? r : cache[run] = ReadJson(Path.Combine(plan.RunDir(run), "result.json"));
        var rows = new List<ResultRow>();
        foreach (var e in plan.Entries)
        {
            var r = Result(e.Run);
            var job = plan.Job(e.Run);
            var costs = r?["costs"];
            var tasks = r?["eval"]?["tasks"];
            // a sequence stage's tests of the earlier tasks (its retention) are kept as probes of those tasks' names
            var probes = tasks is JsonObject t
                ? t.Where(kv => kv.Key != e.Task && (e.Sweep == ExperimentPlanner.SequenceSweep || !IsDomainTask(plan, kv.Key)))
                    .ToDictionary(kv => kv.Key, kv => (Num(kv.Value?["acc"]), Num(kv.Value?["acc_norm"])))
                : [];
            // an eval-only method's settings and rank are those of the run whose adapter it scales
            var trained = job.AdapterOf is { } of ? plan.Job(of) : job;
            var general = trained.DependsOn.Select(plan.Job).FirstOrDefault(d => d.Kind == JobKind.General)?.Train;
            var settings = ExperimentMethods.Settings(ExperimentMethods.Trained(e.Method), trained.Train, general);
            rows.Add(
                new ResultRow
                {
                    Method = e.Method,
                    Sweep = e.Sweep,
                    SweepValue = e.SweepValue,
                    Seed = e.Seed,
                    Task = e.Task,
                    Run = e.Run,
                    GeneralPpl = Num(r?["eval"]?["general_ppl"]),
                    Acc = Num(tasks?[e.Task]?["acc"]),
                    AccNorm = Num(tasks?[e.Task]?["acc_norm"]),
                    TrainSeconds = job.Kind == JobKind.Base ? 0 : Opt(costs?["train_seconds"]),
                    GeneralStageSeconds = Opt(costs?["general_stage_seconds"]),
                    SiRecordSeconds = Opt(costs?["si_record_seconds"]),
                    FisherSeconds = Opt(costs?["fisher_seconds"]),
                    OmegaBytes = OptLong(costs?["omega_bytes"]),
                    FisherBytes = OptLong(costs?["fisher_bytes"]),
                    PeakMemoryBytes = OptLong(costs?["peak_memory_bytes"]),
                    Phi = settings.Phi,
                    Xi = settings.Xi,
                    Rank = job.Kind == JobKind.Base ? null : (general ?? trained.Train)?.Rank,
                    LayerWeights = settings.LayerWeights is { } w ? EnumNames<LayerWeighting>.Name(w) : null,
                    EwcLambda = settings.EwcLambda,
                    ReplayFraction = settings.ReplayFraction,
                    AdapterScale = job.AdapterScale,
                    Strength = job.AdapterScale ?? ExperimentMethods.Strength(e.Method, job.Train),
                    FinalTaskLoss = Opt(r?["metrics"]?["final_task_loss"]),
                    FinalPenalty = Opt(r?["metrics"]?["final_penalty"]),
                    Probes = probes,
                }
            );
        }
        return rows;
    }

    /// <summary>The probes of results.csv's probe columns: the configured probes, then, with a sequence, every task a later
    /// stage is tested on again (its retention; empty in the rows of the stage that trains on it).</summary>
    public static List<string> ProbeColumns(ExperimentConfig c)
    {
        ArgumentNullException.ThrowIfNull(c);
        var earlier = c.Sequence.Count == 0 ? [] : c.Domain.Concat(c.Sequence.SkipLast(1)).Select(t => t.Name);
        return [.. c.Probes.Select(p => p.Name), .. earlier];
    }

    static bool IsDomainTask(ExperimentPlan plan, string name) => plan.Entries.Any(e => e.Task == name);

    /// <summary>Writes results.csv: the fixed columns, then acc and acc_norm of each probe.</summary>
    public static void WriteCsv(string path, IReadOnlyList<ResultRow> rows, IReadOnlyList<string> probes) => ResultsCsvFile.Write(path, rows, probes);

    /// <summary>Reads results.csv back (the report is built from it, so an edited or merged CSV gives its report).</summary>
    public static List<ResultRow> ReadCsv(string path) => ResultsCsvFile.Read(path);

    static double Num(JsonNode? n) => n is JsonValue v && v.TryGetValue<double>(out var d) ? d : double.NaN;

    static double? Opt(JsonNode? n) => n is JsonValue v && v.TryGetValue<double>(out var d) ? d : null;

    static long? OptLong(JsonNode? n) =>
        n is JsonValue v
            ? v.TryGetValue<long>(out var l)
                ? l
                : v.TryGetValue<double>(out var d)
                    ? (long)d
                    : null
            : null;

    internal static JsonNode? ReadJson(string path)
    {
        if (!File.Exists(path))
            return null;
        try
        {
            return JsonFile.Read(path);
        }
        catch (AloraException)
        {
            return null;
        }
    }
}
