using System.CommandLine;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Alora.Recipes;
using Alora.Training;

namespace Alora.Cli.Commands;

/// <summary>
/// alora train: one option per <see cref="FinetuneOptions"/> property (kebab-case), and a YAML file
/// whose keys are the same names (--config); options given on the command line override the file.
/// </summary>
public static class TrainCommand
{
    static readonly Dictionary<string, string> Help = new()
    {
        ["model"] = "HuggingFace model folder", ["data"] = "training data: text, JSONL text/input_ids, Parquet text, prompt/completion JSONL, or a task file with --task",
        ["out"] = "run folder (configuration, metrics.jsonl, checkpoints, adapter)", ["method"] = "lora | rslora | alora | alora-no-layer | ewc-lora",
        ["stage"] = "general (stage nu: importance recording for alora) | domain (stage mu) | both (--general-data, then --data)", ["general-data"] = "stage-nu text for --stage both", ["task"] = "read --data as sciq | piqa | medmcqa | mcq and train on the correct answers",
        ["rank"] = "LoRA rank r", ["alpha"] = "LoRA alpha (scaling alpha/r, or alpha/sqrt(r) with --rslora)", ["dropout"] = "dropout on the LoRA branch",
        ["target-modules"] = "module names to adapt (comma-separated)", ["rslora"] = "rank-stabilised scaling alpha/sqrt(r)",
        ["lr"] = "peak learning rate", ["batch-size"] = "sequences per optimizer step", ["micro-batch-size"] = "sequences per forward pass (gradient accumulation)",
        ["epochs"] = "passes over the data", ["max-steps"] = "stop after this many optimizer steps (overrides --epochs)", ["max-length"] = "tokens per sequence",
        ["seed"] = "seed of the adapter init, data order and dropout", ["optimizer"] = "adamw | sgd", ["schedule"] = "linear | cosine | constant (after warm-up)",
        ["resume"] = "continue an interrupted run in --out", ["init-adapter"] = "continue the adapter of this run folder (or PEFT adapter folder)",
        ["device"] = "cpu | cuda | cuda:N", ["dtype"] = "float32 | bfloat16 | float16",
        ["importance"] = "importance file (written by --stage general, read by --stage domain)", ["phi"] = "ALoRA penalty strength",
        ["xi"] = "damping in Omega = omega / (Delta^2 + xi)", ["si-variant"] = "paper | exact", ["layer-weights"] = "softmax | softmax-normalized | softmax-log | uniform",
        ["fisher"] = "EWC Fisher file", ["ewc-lambda"] = "EWC penalty strength",
    };

    public static Command Create(CliIo io)
    {
        var cmd = new Command("train", "Fine-tune a LoRA adapter (LoRA, rsLoRA, ALoRA stages, EWC-LoRA) into a run folder.");
        var config = new Option<string?>("--config") { Description = "YAML file whose keys are these option names (command-line values override it)" };
        cmd.Add(config);
        var options = new List<(PropertyInfo Prop, Option Opt)>();
        foreach (var prop in typeof(FinetuneOptions).GetProperties().Where(p => p.CanWrite))
        {
            var name = Kebab(prop.Name);
            var opt = MakeOption(prop.PropertyType, "--" + name, Help.GetValueOrDefault(name, ""));
            options.Add((prop, opt));
            cmd.Add(opt);
        }
        cmd.SetAction(p =>
        {
            var merged = JsonSerializer.SerializeToNode(new FinetuneOptions(), FinetuneRecipe.JsonOptions)!.AsObject();
            var given = new HashSet<string>(StringComparer.Ordinal);
            if (p.GetValue(config) is { } yamlPath) given.UnionWith(YamlOptions.ApplyYaml(merged, yamlPath));
            foreach (var (prop, opt) in options)
            {
                var result = p.GetResult(opt);
                if (result is null || result.Implicit) continue;
                merged[Kebab(prop.Name)] = ToJson(p, opt);
                given.Add(Kebab(prop.Name));
            }
            FillUnstated(merged, given);
            var o = Bind(merged, p.GetValue(config));
            var result2 = ProgressView.RunTraining(io, $"train {o.Method}/{o.Stage}", progress => FinetuneRecipe.Run(o, progress));
            io.Out.WriteLine($"run: {result2.RunDir}");
            io.Out.WriteLine($"steps: {result2.Steps}  final loss: {result2.FinalLoss:F4}  train seconds: {result2.TrainSeconds:F1}");
            return 0;
        });
        return cmd;
    }

    static string Kebab(string name) => JsonNamingPolicy.KebabCaseLower.ConvertName(name);

    /// <summary>
    /// Options the user did not state come from what the run already is: on --resume, the run folder's config.json
    /// (so `alora train --out RUN --resume` continues RUN as it was started); with --init-adapter, that adapter's rank,
    /// alpha, targets and scaling. Stated options that differ are then refused by the recipe, never dropped.
    /// </summary>
    static void FillUnstated(JsonObject merged, HashSet<string> given)
    {
        if (merged["resume"]?.GetValue<bool>() == true && merged["out"]?.GetValue<string>() is { Length: > 0 } outDir
            && RunFolder.StoredOptions(Path.GetFullPath(outDir)) is { } stored)
            foreach (var (k, v) in stored)
                if (!given.Contains(k) && merged.ContainsKey(k)) merged[k] = v?.DeepClone();
        if (merged["init-adapter"]?.GetValue<string>() is { Length: > 0 } init)
        {
            var (adapter, regex) = Alora.Lora.PeftAdapter.ReadConfig(init);
            var shape = new Dictionary<string, JsonNode?>
            {
                ["rank"] = adapter.R, ["alpha"] = adapter.Alpha, ["rslora"] = adapter.UseRslora,
                ["target-modules"] = regex is null ? new JsonArray(adapter.TargetModules.Select(t => (JsonNode)JsonValue.Create(t)!).ToArray()) : null,
            };
            foreach (var (k, v) in shape)
                if (!given.Contains(k) && v is not null) merged[k] = v;
        }
    }

    static Option MakeOption(Type t, string name, string help)
    {
        if (t == typeof(bool)) return new Option<bool>(name) { Description = help };
        if (t == typeof(int)) return new Option<int>(name) { Description = help };
        if (t == typeof(int?)) return new Option<int?>(name) { Description = help };
        if (t == typeof(long)) return new Option<long>(name) { Description = help };
        if (t == typeof(double)) return new Option<double>(name) { Description = help };
        if (t == typeof(IReadOnlyList<string>)) return new Option<string[]>(name) { Description = help, AllowMultipleArgumentsPerToken = true };
        return new Option<string?>(name) { Description = help };
    }

    static JsonNode? ToJson(ParseResult p, Option opt) => opt switch
    {
        Option<bool> b => p.GetValue(b),
        Option<int> i => p.GetValue(i),
        Option<int?> i => p.GetValue(i),
        Option<long> l => p.GetValue(l),
        Option<double> d => p.GetValue(d),
        Option<string[]> a => new JsonArray((p.GetValue(a) ?? []).SelectMany(x => x.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Select(x => (JsonNode)JsonValue.Create(x)!).ToArray()),
        Option<string?> s => p.GetValue(s),
        _ => null,
    };

    static FinetuneOptions Bind(JsonObject merged, string? source)
    {
        try
        {
            return merged.Deserialize<FinetuneOptions>(FinetuneRecipe.JsonOptions)!;
        }
        catch (JsonException e)
        {
            throw new AloraException($"{source ?? "options"}: '{e.Path?.TrimStart('$', '.')}' has the wrong type", e);
        }
    }
}
