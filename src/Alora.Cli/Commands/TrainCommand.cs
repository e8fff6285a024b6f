using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Alora.Recipes;
using Alora.Training;

namespace Alora.Cli.Commands;

/// <summary>
/// alora train: one option per entry of <see cref="OptionCatalog"/> (the properties of <see cref="FinetuneOptions"/>,
/// kebab-case, with their help), and a YAML file whose keys are the same names (--config); options given on the command
/// line override the file. Both are bound by the catalog's one binder.
/// </summary>
public static class TrainCommand
{
    public static Command Create(CliIo io)
    {
        var cmd = new Command("train", "Fine-tune a LoRA adapter (LoRA, rsLoRA, replay, ALoRA stages, EWC-LoRA) into a run folder.");
        var config = new Option<string?>("--config")
        {
            Description = "YAML file whose keys are these option names (command-line values override it)",
        };
        cmd.Add(config);
        var options = new List<(OptionInfo Info, Option Opt)>();
        foreach (var info in OptionCatalog.Options)
        {
            var opt = MakeOption(info);
            options.Add((info, opt));
            cmd.Add(opt);
        }
        cmd.SetAction(p =>
        {
            var merged = OptionCatalog.Defaults();
            var given = new HashSet<string>(StringComparer.Ordinal);
            if (p.GetValue(config) is { } yamlPath)
                given.UnionWith(YamlOptions.ApplyYaml(merged, yamlPath));
            foreach (var (info, opt) in options)
            {
                var result = p.GetResult(opt);
                if (result is null || result.Implicit)
                    continue;
                merged[info.Key] = ToJson(p, opt);
                given.Add(info.Key);
            }
            FillUnstated(merged, given);
            var o = OptionCatalog.Bind(merged, p.GetValue(config) ?? "options");
            WarnUnread(io, o, given);
            // hub names resolved here, once the options are known to be valid, so that downloads show their progress
            o.Validate();
            o = o with
            {
                Model = HubCli.Model(io, o.Model),
                Data = HubCli.Data(io, o.Data),
                GeneralData = HubCli.DataOrNull(io, o.GeneralData),
                InitAdapter = o.InitAdapter is { } init ? HubCli.Adapter(io, init) : null,
            };
            using var signal = new CancelOnSignal(io);
            FinetuneResult result2;
            try
            {
                result2 = ProgressView.RunTraining(
                    io,
                    $"train {EnumNames<FinetuneMethod>.Name(o.Method)}/{EnumNames<Stage>.Name(o.Stage)}",
                    progress => FinetuneRecipe.Run(o, progress, cancel: signal.Token)
                );
            }
            catch (OperationCanceledException)
            {
                io.Err.WriteLine($"interrupted: a checkpoint was written where it stopped; add --resume to the same command to continue ({o.Out})");
                return 130;
            }
            io.Out.WriteLine($"run: {result2.RunDir}");
            io.Out.WriteLine($"steps: {result2.Steps}  final loss: {result2.FinalLoss:F4}  train seconds: {result2.TrainSeconds:F1}");
            return 0;
        });
        return cmd;
    }

    /// <summary>A stated option that the chosen method does not read is named, never silently dropped (--phi with --method lora).</summary>
    static void WarnUnread(CliIo io, FinetuneOptions o, IEnumerable<string> given)
    {
        foreach (var key in given.Order(StringComparer.Ordinal))
        {
            var readers = MethodRegistry.Readers(key);
            if (readers.Count > 0 && !readers.Contains(o.Method))
                io.Err.WriteLine(
                    $"warning: --{key} is read by --method {string.Join(", ", readers.Select(EnumNames<FinetuneMethod>.Name))}; --method {EnumNames<FinetuneMethod>.Name(o.Method)} ignores it"
                );
        }
    }

    /// <summary>
    /// Options the user did not state come from what the run already is: on --resume, the run folder's config.json
    /// (so `alora train --out RUN --resume` continues RUN as it was started); with --init-adapter, that adapter's rank,
    /// alpha, targets and scaling. Stated options that differ are then refused by the recipe, never dropped.
    /// </summary>
    static void FillUnstated(JsonObject merged, HashSet<string> given)
    {
        if (
            merged["resume"]?.GetValue<bool>() == true
            && merged["out"]?.GetValue<string>() is { Length: > 0 } outDir
            && RunFolder.StoredOptions(Path.GetFullPath(outDir)) is { } stored
        )
            foreach (var (k, v) in stored)
                if (!given.Contains(k) && merged.ContainsKey(k))
                    merged[k] = v?.DeepClone();
        if (merged["init-adapter"]?.GetValue<string>() is { Length: > 0 } init)
        {
            var (adapter, regex) = Alora.Lora.PeftAdapter.ReadConfig(init);
            var shape = new Dictionary<string, JsonNode?>
            {
                ["rank"] = adapter.R,
                ["alpha"] = adapter.Alpha,
                ["rslora"] = adapter.UseRslora,
                ["target-modules"] = regex is null
                    ? new JsonArray(adapter.TargetModules.Select(t => (JsonNode)JsonValue.Create(t)!).ToArray())
                    : null,
            };
            foreach (var (k, v) in shape)
                if (!given.Contains(k) && v is not null)
                    merged[k] = v;
        }
    }

    static Option MakeOption(OptionInfo info)
    {
        var (t, name, help) = (info.Type, "--" + info.Key, OptionCatalog.Help(info));
        if (info.Values is not null)
        {
            // named values are checked while parsing, by the binder every source goes through
            var named = new Option<string?>(name) { Description = help };
            named.CompletionSources.Add(info.Values.ToArray());
            named.Validators.Add(r =>
            {
                var text = r.Tokens.Count > 0 ? r.Tokens[^1].Value : null;
                try
                {
                    _ = JsonSerializer.Deserialize(JsonValue.Create(text), t, OptionCatalog.Json);
                }
                catch (JsonException)
                {
                    r.AddError($"{name} '{text}' is not one of {string.Join(", ", info.Values)}");
                }
            });
            return named;
        }
        if (t == typeof(bool))
            return new Option<bool>(name) { Description = help };
        if (t == typeof(int))
            return new Option<int>(name) { Description = help };
        if (t == typeof(int?))
            return new Option<int?>(name) { Description = help };
        if (t == typeof(long))
            return new Option<long>(name) { Description = help };
        if (t == typeof(double))
            return new Option<double>(name) { Description = help };
        if (t == typeof(IReadOnlyList<string>))
            return new Option<string[]>(name) { Description = help, AllowMultipleArgumentsPerToken = true };
        return new Option<string?>(name) { Description = help };
    }

    static JsonNode? ToJson(ParseResult p, Option opt) =>
        opt switch
        {
            Option<bool> b => p.GetValue(b),
            Option<int> i => p.GetValue(i),
            Option<int?> i => p.GetValue(i),
            Option<long> l => p.GetValue(l),
            Option<double> d => p.GetValue(d),
            Option<string[]> a => new JsonArray(
                (p.GetValue(a) ?? [])
                    .SelectMany(x => x.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    .Select(x => (JsonNode)JsonValue.Create(x)!)
                    .ToArray()
            ),
            Option<string?> s => p.GetValue(s),
            _ => null,
        };
}
