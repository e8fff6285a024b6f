using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Alora.IO;
using Alora.Lora;
using Alora.Models;
using Alora.Training;

namespace Alora.Recipes;

/// <summary>
/// What a run folder holds and the rules that keep it honest: a run is resumed only with the options it was started
/// with (config.json), a fresh run never mixes with what an earlier one left, and an adapter continued with
/// --init-adapter keeps its own shape, which options cannot silently change.
/// </summary>
public static class RunFolder
{
    public const string ConfigFile = "config.json",
        MetricsFile = "metrics.jsonl",
        SummaryFile = "summary.json";

    /// <summary>
    /// Options that may differ on --resume: where the run computes, how often it saves and whether it also writes
    /// TensorBoard files (rebuilt from metrics.jsonl when training starts) change neither its data order nor its
    /// numbers on the CPU. Every other option must equal the run's (a new --lr after the checkpoint would make
    /// config.json describe a run that never happened); start a new run for those.
    /// </summary>
    public static readonly IReadOnlySet<string> ResumeMutable = new HashSet<string>(StringComparer.Ordinal)
    {
        "resume",
        "device",
        "checkpoint-every",
        "tensorboard",
    };

    /// <summary>Options whose value an adapter continued with --init-adapter fixes (its shape and scaling).</summary>
    public static readonly IReadOnlyList<string> AdapterShape = ["rank", "alpha", "target-modules", "rslora"];

    /// <summary>The options a run folder was started with (its config.json without "resolved"), or null when it has none.</summary>
    public static JsonObject? StoredOptions(string runDir)
    {
        var path = Path.Combine(runDir, ConfigFile);
        if (!File.Exists(path))
            return null;
        var j = JsonFile.Read(path);
        j.Remove("resolved");
        return j;
    }

    /// <summary>Refuses to run into a folder an earlier run left, unless asked to resume it.</summary>
    public static void CheckFresh(string runDir, FinetuneOptions o)
    {
        if (o.Resume)
            return;
        if (File.Exists(Path.Combine(runDir, SummaryFile)))
            throw new AloraException($"{runDir} already holds a finished run: choose another --out, or pass --resume to keep it");
        var checkpoint = Trainer.LatestCheckpoint(runDir);
        if (checkpoint is not null)
            throw new AloraException(
                $"{runDir} holds an interrupted run (last checkpoint {Path.GetFileName(checkpoint)}): pass --resume to continue it, or choose another --out"
            );
        if (File.Exists(Path.Combine(runDir, ConfigFile)) || File.Exists(Path.Combine(runDir, MetricsFile)))
            throw new AloraException(
                $"{runDir} holds a run that stopped before its first checkpoint: pass --resume to start it again from step 0, or choose another --out"
            );
    }

    /// <summary>On --resume: every option outside <see cref="ResumeMutable"/> must equal the run's config.json.</summary>
    public static void CheckResumeOptions(string runDir, FinetuneOptions o)
    {
        if (!o.Resume || StoredOptions(runDir) is not { } stored)
            return;
        var now = o.ToJson();
        var differ = now.Where(kv => !ResumeMutable.Contains(kv.Key) && stored.ContainsKey(kv.Key) && !JsonNode.DeepEquals(kv.Value, stored[kv.Key]))
            .Select(kv => $"--{kv.Key} {Show(kv.Value)} (the run has {Show(stored[kv.Key])})")
            .ToList();
        if (differ.Count > 0)
            throw new AloraException(
                $"{Path.Combine(runDir, ConfigFile)}: --resume with options that differ from the run's: {string.Join(", ", differ)}. "
                    + $"Only {string.Join(", ", ResumeMutable.Where(k => k != "resume").Select(k => "--" + k))} may change on resume: give the run's values, or start a new run in another --out"
            );
    }

    /// <summary>An adapter continued with --init-adapter keeps its rank, alpha, targets and scaling rule: options that say otherwise are refused.</summary>
    public static void CheckAdapterShape(FinetuneOptions o, LoraConfig adapter, string? targetRegex)
    {
        var differ = new List<string>();
        if (o.Rank != adapter.R)
            differ.Add($"--rank {o.Rank} (the adapter has {adapter.R})");
        if (o.Alpha != adapter.Alpha)
            differ.Add(
                $"--alpha {o.Alpha.ToString(CultureInfo.InvariantCulture)} (the adapter has {adapter.Alpha.ToString(CultureInfo.InvariantCulture)})"
            );
        if (o.IsRslora != adapter.UseRslora)
            differ.Add($"rsLoRA scaling {(o.IsRslora ? "on" : "off")} (the adapter has it {(adapter.UseRslora ? "on" : "off")})");
        if (targetRegex is null && !o.TargetModules.Order(StringComparer.Ordinal).SequenceEqual(adapter.TargetModules.Order(StringComparer.Ordinal)))
            differ.Add($"--target-modules {string.Join(",", o.TargetModules)} (the adapter has {string.Join(",", adapter.TargetModules)})");
        if (differ.Count > 0)
            throw new AloraException(
                $"{o.InitAdapter}: --init-adapter continues that adapter as it is, but {string.Join(", ", differ)}: "
                    + "drop those options (the adapter's own values apply), or train a new adapter without --init-adapter"
            );
    }

    static string Show(JsonNode? v) =>
        v switch
        {
            null => "(none)",
            JsonArray a => string.Join(",", a.Select(x => x?.ToString())),
            _ => v.ToString(),
        };
}
