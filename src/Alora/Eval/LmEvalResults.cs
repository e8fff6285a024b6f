using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Alora.Eval;

/// <summary>A corpus's perplexity as one task of an lm-eval results file; <see cref="Available"/> counts the file's documents before --limit.</summary>
public sealed record LmEvalCorpus(string Name, string Path, PerplexityResult Result, int Available);

/// <summary>A multiple-choice result as one task of an lm-eval results file; <see cref="Available"/> counts the file's items before --limit.</summary>
public sealed record LmEvalTask(string Name, string Path, McqResult Result, int Available, string? LabelsPath = null);

/// <summary>How an evaluation ran: what the results file's "config" and run fields record.</summary>
public sealed record LmEvalRun
{
    /// <summary>The model folder (made absolute in the file).</summary>
    public required string Model { get; init; }

    /// <summary>The LoRA adapter applied, if any, and the scale it was applied at (W0 + scale D).</summary>
    public string? Adapter { get; init; }
    public double AdapterScale { get; init; } = 1;
    public string Device { get; init; } = "cpu";
    public string Dtype { get; init; } = "float32";
    public int? BatchSize { get; init; }
    public int? Limit { get; init; }

    /// <summary>When the evaluation started (lm-eval's "date", unix seconds).</summary>
    public DateTimeOffset Started { get; init; }

    /// <summary>Wall time of the whole evaluation (lm-eval's "total_evaluation_time_seconds").</summary>
    public double Seconds { get; init; }
}

/// <summary>
/// The aggregated results file lm-evaluation-harness 0.4 writes (its results_DATE.json), filled from Alora's
/// evaluations so the numbers can stand next to lm-eval's: per task "alias" and "METRIC,none" /
/// "METRIC_stderr,none" under "results", and the task configs, versions, n-shot, higher_is_better, n-samples
/// and run config beside them. Metrics keep lm-eval's definitions: acc and acc_norm are means of 0/1 scores with
/// stderr = sample standard deviation / sqrt(n) = sqrt(p (1 - p) / (n - 1)), "N/A" below two items (as lm-eval
/// writes it); a corpus (output type loglikelihood_rolling) has word_perplexity = exp(nll / words),
/// byte_perplexity = exp(nll / bytes) = 2^bits_per_byte and bits_per_byte = nll / bytes / ln 2, sums over
/// documents, whose stderrs lm-eval does not compute ("N/A").
/// </summary>
public static class LmEvalResults
{
    /// <summary>The file's name ends so: FILE.json's results go to FILE.lm_eval.json beside it.</summary>
    public const string Suffix = ".lm_eval.json";

    /// <summary>What lm-eval writes where a metric has no standard error.</summary>
    public const string NotAvailable = "N/A";

    /// <summary>The results file beside an evaluation's own JSON: DIR/STEM.json gives DIR/STEM.lm_eval.json.</summary>
    public static string PathBeside(string outFile)
    {
        ArgumentException.ThrowIfNullOrEmpty(outFile);
        var full = System.IO.Path.GetFullPath(outFile);
        return System.IO.Path.Combine(System.IO.Path.GetDirectoryName(full)!, System.IO.Path.GetFileNameWithoutExtension(full) + Suffix);
    }

    /// <summary>
    /// Whether lm-eval's metrics exist for a corpus: they count the words and bytes of its text, so a corpus read as
    /// pre-tokenized input_ids has none.
    /// </summary>
    public static bool HasTextMetrics(PerplexityResult r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return r.Words is > 0 && r.Bytes is > 0;
    }

    /// <summary>lm-eval keys every task by its name in one object: a corpus and a task of the same name would overwrite each other.</summary>
    public static void CheckNames(IEnumerable<string> corpora, IEnumerable<string> tasks)
    {
        ArgumentNullException.ThrowIfNull(corpora);
        ArgumentNullException.ThrowIfNull(tasks);
        var taskNames = tasks.ToHashSet(StringComparer.Ordinal);
        foreach (var name in corpora.Where(taskNames.Contains))
            throw new AloraException(
                $"a corpus (--ppl) and a task (--task) are both named '{name}', and the lm-eval results file keys both by name: rename the corpus (--ppl NAME=FILE)"
            );
    }

    /// <summary>The corpora of a suite that have lm-eval metrics and its tasks, with the run's settings.</summary>
    public static JsonObject FromSuite(EvalSuiteResult suite, LmEvalRun run)
    {
        ArgumentNullException.ThrowIfNull(suite);
        return Build(
            run,
            suite.Perplexity.Where(p => HasTextMetrics(p.Result)).Select(p => new LmEvalCorpus(p.Name, p.Path, p.Result, p.Available)).ToList(),
            suite.Tasks.Select(t => new LmEvalTask(t.Name, t.Path, t.Result, t.Available, t.LabelsPath)).ToList()
        );
    }

    /// <summary>The whole results file; every corpus must have text metrics (<see cref="HasTextMetrics"/>).</summary>
    public static JsonObject Build(LmEvalRun run, IReadOnlyList<LmEvalCorpus> corpora, IReadOnlyList<LmEvalTask> tasks)
    {
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(corpora);
        ArgumentNullException.ThrowIfNull(tasks);
        if (corpora.Count + tasks.Count == 0)
            throw new ArgumentException("no corpus and no task: an lm-eval results file needs at least one", nameof(tasks));
        foreach (var c in corpora.Where(c => !HasTextMetrics(c.Result)))
            throw new ArgumentException(
                $"corpus '{c.Name}' has no words or bytes (pre-tokenized input_ids): lm-eval's metrics need its text",
                nameof(corpora)
            );
        foreach (
            var dup in corpora.Select(c => c.Name).Concat(tasks.Select(t => t.Name)).GroupBy(n => n, StringComparer.Ordinal).Where(g => g.Count() > 1)
        )
            throw new AloraException($"two parts are named '{dup.Key}', and the lm-eval results file keys them by name: name them apart");

        JsonObject results = [],
            groups = [],
            configs = [],
            versions = [],
            shots = [],
            better = [],
            samples = [];
        foreach (var c in corpora)
        {
            results[c.Name] = CorpusMetrics(c);
            configs[c.Name] = CorpusConfig(c);
            better[c.Name] = new JsonObject
            {
                ["word_perplexity"] = false,
                ["byte_perplexity"] = false,
                ["bits_per_byte"] = false,
            };
            Common(c.Name, c.Available, c.Result.Documents);
        }
        foreach (var t in tasks)
        {
            results[t.Name] = TaskMetrics(t);
            configs[t.Name] = TaskConfig(t);
            better[t.Name] = new JsonObject { ["acc"] = true, ["acc_norm"] = true };
            Common(t.Name, t.Available, t.Result.N);
        }

        void Common(string name, int available, int effective)
        {
            groups[name] = new JsonArray();
            // lm-eval's version is that of its own task config; these are Alora's tasks, which have none
            versions[name] = null;
            shots[name] = 0;
            samples[name] = new JsonObject { ["original"] = available, ["effective"] = effective };
        }

        var modelName = run.Adapter is { } a ? Named(a) : Named(run.Model);
        return new JsonObject
        {
            ["results"] = results,
            ["group_subtasks"] = groups,
            ["configs"] = configs,
            ["versions"] = versions,
            ["n-shot"] = shots,
            ["higher_is_better"] = better,
            ["n-samples"] = samples,
            ["config"] = new JsonObject
            {
                ["model"] = "alora",
                ["model_args"] = ModelArgs(run),
                ["batch_size"] = run.BatchSize,
                ["batch_sizes"] = new JsonArray(),
                ["device"] = run.Device,
                ["use_cache"] = null,
                ["limit"] = run.Limit,
                ["gen_kwargs"] = null,
            },
            ["git_hash"] = null,
            ["date"] = run.Started.ToUnixTimeMilliseconds() / 1000.0,
            ["task_hashes"] = new JsonObject(),
            ["model_source"] = "alora",
            // lm-eval names the model after the adapter when there is one (its peft= argument comes first)
            ["model_name"] = modelName,
            ["model_name_sanitized"] = SanitizeModelName(modelName),
            ["system_instruction"] = null,
            ["system_instruction_sha"] = null,
            ["fewshot_as_multiturn"] = false,
            ["chat_template"] = null,
            ["chat_template_sha"] = null,
            // lm-eval writes the time as text (str of a float)
            ["total_evaluation_time_seconds"] = run.Seconds.ToString("R", CultureInfo.InvariantCulture),
        };
    }

    /// <summary>lm-eval's sanitize_model_name: each run of the characters " &lt; &gt; : / | \ ? * [ ] becomes "__".</summary>
    public static string SanitizeModelName(string name) => Regex.Replace(name, @"[""<>:/|\\?*\[\]]+", "__");

    static JsonObject CorpusMetrics(LmEvalCorpus c)
    {
        var r = c.Result;
        double nll = r.NllSum,
            words = r.Words!.Value,
            bytes = r.Bytes!.Value;
        return new JsonObject
        {
            ["alias"] = c.Name,
            ["word_perplexity,none"] = Math.Exp(nll / words),
            ["word_perplexity_stderr,none"] = NotAvailable,
            ["byte_perplexity,none"] = Math.Exp(nll / bytes),
            ["byte_perplexity_stderr,none"] = NotAvailable,
            ["bits_per_byte,none"] = nll / bytes / Math.Log(2),
            ["bits_per_byte_stderr,none"] = NotAvailable,
        };
    }

    static JsonObject TaskMetrics(LmEvalTask t) =>
        new()
        {
            ["alias"] = t.Name,
            ["acc,none"] = t.Result.Acc,
            ["acc_stderr,none"] = Stderr(t.Result.AccStderr),
            ["acc_norm,none"] = t.Result.AccNorm,
            ["acc_norm_stderr,none"] = Stderr(t.Result.AccNormStderr),
        };

    // McqResult's stderrs are NaN below two items, where lm-eval writes "N/A"
    static JsonNode Stderr(double s) => double.IsNaN(s) ? NotAvailable : JsonValue.Create(s);

    static JsonObject CorpusConfig(LmEvalCorpus c) =>
        new()
        {
            ["task"] = c.Name,
            ["dataset_path"] = System.IO.Path.GetFullPath(c.Path),
            ["output_type"] = "loglikelihood_rolling",
            ["num_fewshot"] = 0,
            ["metric_list"] = new JsonArray(
                Metric("word_perplexity", "weighted_perplexity", false),
                Metric("byte_perplexity", "weighted_perplexity", false),
                Metric("bits_per_byte", "bits_per_byte", false)
            ),
            // the windows decide the numbers: lm-eval's rolling windows are stride = max_length
            ["metadata"] = new JsonObject
            {
                ["version"] = null,
                ["max_length"] = c.Result.MaxLength,
                ["stride"] = c.Result.Stride,
            },
        };

    static JsonObject TaskConfig(LmEvalTask t)
    {
        var metadata = new JsonObject { ["version"] = null, ["alora_task"] = t.Result.Task };
        if (t.LabelsPath is { } labels)
            metadata["labels_path"] = System.IO.Path.GetFullPath(labels);
        return new JsonObject
        {
            ["task"] = t.Name,
            ["dataset_path"] = System.IO.Path.GetFullPath(t.Path),
            ["output_type"] = "multiple_choice",
            ["target_delimiter"] = " ",
            ["num_fewshot"] = 0,
            ["metric_list"] = new JsonArray(Metric("acc", "mean", true), Metric("acc_norm", "mean", true)),
            ["metadata"] = metadata,
        };
    }

    static JsonObject Metric(string name, string aggregation, bool higherIsBetter) =>
        new()
        {
            ["metric"] = name,
            ["aggregation"] = aggregation,
            ["higher_is_better"] = higherIsBetter,
        };

    /// <summary>lm-eval's model_args string (key=value, comma-separated), as the hf model's: pretrained, dtype, peft.</summary>
    static string ModelArgs(LmEvalRun run)
    {
        var args = $"pretrained={Named(run.Model)},dtype={run.Dtype}";
        if (run.Adapter is { } a)
            args += $",peft={Named(a)},adapter_scale={run.AdapterScale.ToString("R", CultureInfo.InvariantCulture)}";
        return args;
    }

    /// <summary>A hub repository by its name (ORG/NAME[@REV], as lm-eval's pretrained= takes it), a folder by its full path.</summary>
    static string Named(string modelOrAdapter) =>
        Hub.HubFiles.IsRepoSpec(modelOrAdapter) ? modelOrAdapter : System.IO.Path.GetFullPath(modelOrAdapter);
}
