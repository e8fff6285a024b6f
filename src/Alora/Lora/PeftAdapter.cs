using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Alora.IO;
using Alora.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Lora;

/// <summary>
/// LoRA adapters in PEFT's format: adapter_config.json and adapter_model.safetensors with keys
/// base_model.model.&lt;module path&gt;.lora_A.weight (r x in) and .lora_B.weight (out x r).
/// </summary>
public static class PeftAdapter
{
    public const string ConfigFile = "adapter_config.json";
    public const string WeightsFile = "adapter_model.safetensors";
    const string Prefix = "base_model.model.";

    public static string KeyA(string path) => Prefix + path + ".lora_A.weight";

    public static string KeyB(string path) => Prefix + path + ".lora_B.weight";

    /// <summary>Writes the adapter (weights in float32) and its PEFT configuration, each atomically.</summary>
    public static void Save(string dir, IReadOnlyList<AdaptedModule> adapters, LoraConfig config, string baseModel)
    {
        Directory.CreateDirectory(dir);
        var tensors = adapters.SelectMany(a =>
            new[]
            {
                new KeyValuePair<string, Tensor>(KeyA(a.Path), a.Layer.lora_A.weight),
                new KeyValuePair<string, Tensor>(KeyB(a.Path), a.Layer.lora_B.weight),
            }
        );
        SafeTensorsWriter.Write(Path.Combine(dir, WeightsFile), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        bool fanInFanOut = adapters.Count > 0 && adapters[0].Layer.FanInFanOut;
        AtomicFile.WriteAllText(
            Path.Combine(dir, ConfigFile),
            ConfigJson(config, baseModel, fanInFanOut).ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n"
        );
    }

    /// <summary>adapter_config.json as PEFT's LoraConfig serialises it (use_rslora always written).</summary>
    public static JsonObject ConfigJson(LoraConfig c, string baseModel, bool fanInFanOut) =>
        new()
        {
            ["alpha_pattern"] = new JsonObject(),
            ["auto_mapping"] = null,
            ["base_model_name_or_path"] = baseModel,
            ["bias"] = "none",
            ["fan_in_fan_out"] = fanInFanOut,
            ["inference_mode"] = true,
            ["init_lora_weights"] = true,
            ["layer_replication"] = null,
            ["layers_pattern"] = null,
            ["layers_to_transform"] = null,
            ["lora_alpha"] = c.Alpha == Math.Floor(c.Alpha) ? JsonValue.Create((long)c.Alpha) : JsonValue.Create(c.Alpha),
            ["lora_dropout"] = c.Dropout,
            ["megatron_config"] = null,
            ["megatron_core"] = "megatron.core",
            ["modules_to_save"] = null,
            ["peft_type"] = "LORA",
            ["r"] = c.R,
            ["rank_pattern"] = new JsonObject(),
            ["revision"] = null,
            ["target_modules"] = new JsonArray(c.TargetModules.Order(StringComparer.Ordinal).Select(t => (JsonNode)JsonValue.Create(t)!).ToArray()),
            ["task_type"] = "CAUSAL_LM",
            ["use_dora"] = false,
            ["use_rslora"] = c.UseRslora,
        };

    /// <summary>Reads adapter_config.json; features Alora does not implement are refused, not ignored.</summary>
    public static (LoraConfig Config, string? TargetRegex) ReadConfig(string dir)
    {
        var path = Path.Combine(dir, ConfigFile);
        if (File.Exists(dir))
            throw new AloraException(
                $"{dir} is a file: an adapter is a folder holding {ConfigFile} and {WeightsFile} (a run folder or a PEFT adapter folder)"
            );
        if (!Directory.Exists(dir))
            throw new AloraException($"{dir}: adapter folder not found");
        if (!File.Exists(path))
        {
            // a run of --stage both keeps its adapters one level down (general/, domain/); an interrupted run has none yet
            var inside = Directory
                .EnumerateDirectories(dir)
                .Where(d => File.Exists(Path.Combine(d, ConfigFile)))
                .Select(Path.GetFileName)
                .Order(StringComparer.Ordinal)
                .ToList();
            throw new AloraException(
                $"{dir}: no {ConfigFile}, so no finished adapter here"
                    + (inside.Count > 0 ? $"; these subfolders hold one: {string.Join(", ", inside)}" : "")
            );
        }
        var j = JsonFile.Read(path);
        string Str(string k) => j[k]?.GetValue<string>() ?? "";
        if (Str("peft_type") != "LORA")
            throw new AloraException($"{path}: peft_type '{Str("peft_type")}' is not LORA");
        if (j["use_dora"]?.GetValue<bool>() == true)
            throw new AloraException($"{path}: DoRA adapters (use_dora) are not supported");
        if (j["bias"] is JsonValue b && b.GetValue<string>() != "none")
            throw new AloraException($"{path}: bias '{b}' is not supported (only \"none\")");
        if (j["modules_to_save"] is JsonArray { Count: > 0 })
            throw new AloraException($"{path}: modules_to_save is not supported");
        foreach (var k in new[] { "rank_pattern", "alpha_pattern" })
            if (j[k] is JsonObject { Count: > 0 })
                throw new AloraException($"{path}: {k} is not supported");
        try
        {
            int r = j["r"]?.GetValue<int>() ?? throw new AloraException($"{path}: field 'r' is missing");
            double alpha = j["lora_alpha"]?.GetValue<double>() ?? r;
            double dropout = j["lora_dropout"]?.GetValue<double>() ?? 0;
            bool rs = j["use_rslora"]?.GetValue<bool>() ?? false;
            string? regex = null;
            IReadOnlyList<string> targets = j["target_modules"] switch
            {
                JsonArray a => a.Select(x => x!.GetValue<string>()).ToList(),
                JsonValue v when v.TryGetValue(out string? s) => (regex = s) is null ? [] : [],
                _ => throw new AloraException($"{path}: field 'target_modules' is missing"),
            };
            return (
                new LoraConfig
                {
                    R = r,
                    Alpha = alpha,
                    Dropout = dropout,
                    UseRslora = rs,
                    TargetModules = targets,
                },
                regex
            );
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new AloraException($"{path}: a field has the wrong type ({e.Message})", e);
        }
    }

    /// <summary>
    /// beta of W0 + beta D must be finite and at least 0 (0: the base model; 1: the adapter as trained; above 1
    /// extrapolates past the trained adapter).
    /// </summary>
    public static void CheckScale(double adapterScale)
    {
        if (!double.IsFinite(adapterScale) || adapterScale < 0)
            throw new AloraException(
                $"--adapter-scale must be a finite number of at least 0 (got {adapterScale.ToString(System.Globalization.CultureInfo.InvariantCulture)})"
            );
    }

    /// <summary>
    /// Injects the adapter of a folder (ours or PEFT's) into a base model and loads its weights;
    /// <paramref name="adapterScale"/> (beta) applies it as W0 + beta D (see <see cref="LoraLinear.AdapterScale"/>).
    /// </summary>
    public static IReadOnlyList<AdaptedModule> Apply(CausalLM model, string dir, double adapterScale = 1)
    {
        CheckScale(adapterScale);
        var (config, regex) = ReadConfig(dir);
        var configPath = Path.Combine(dir, ConfigFile);
        var weightsPath = Path.Combine(dir, WeightsFile);
        if (!File.Exists(weightsPath))
            throw new AloraException($"{weightsPath}: file not found (the adapter's weights; {ConfigFile} is there)");
        var weights = SafeTensorsFile.Open(weightsPath);
        if (regex is not null)
        {
            // PEFT matches a string target_modules with re.fullmatch on the module path
            Regex re;
            try
            {
                re = new Regex("^(?:" + regex + ")$");
            }
            catch (ArgumentException e)
            {
                throw new AloraException($"{configPath}: target_modules '{regex}' is not a valid regular expression ({e.Message})", e);
            }
            var names = model
                .named_modules()
                .Select(m => m.name)
                .Where(n => re.IsMatch(n))
                .Select(n => n[(n.LastIndexOf('.') + 1)..])
                .Distinct()
                .ToList();
            if (names.Count == 0)
                throw new AloraException(
                    $"{configPath}: target_modules '{regex}' matches no module of this {model.Architecture}: is it the adapter of another model?"
                );
            config = config with { TargetModules = names };
        }
        IReadOnlyList<AdaptedModule> adapters;
        try
        {
            adapters = LoraInjector.Inject(model, config, adapterScale);
        }
        catch (AloraException e)
        {
            // "target module(s) c_attn not found" alone would not say which adapter asked for them
            throw new AloraException($"{configPath}: {e.Message}", e);
        }
        // PEFT names weights without the adapter name ("default"); tolerate files that kept it
        var entries = weights.Entries.Keys.ToDictionary(k => k.Replace(".default.weight", ".weight", StringComparison.Ordinal), k => k);
        var expected = adapters
            .SelectMany(a => new[] { (a.Path, KeyA(a.Path), a.Layer.lora_A.weight), (a.Path, KeyB(a.Path), a.Layer.lora_B.weight) })
            .ToList();
        var missing = expected.Where(e => !entries.ContainsKey(e.Item2)).Select(e => e.Item2).ToList();
        var unexpected = entries.Keys.Except(expected.Select(e => e.Item2)).ToList();
        var misShaped = expected
            .Where(e => entries.ContainsKey(e.Item2) && !weights.Entries[entries[e.Item2]].Shape.SequenceEqual(e.Item3.shape))
            .Select(e =>
                $"{e.Item2}: file {SafeTensorsFile.Fmt(weights.Entries[entries[e.Item2]].Shape)}, model {SafeTensorsFile.Fmt(e.Item3.shape)}"
            )
            .ToList();
        if (missing.Count + unexpected.Count + misShaped.Count > 0)
            throw new AloraException(
                $"{weights.Path}: adapter does not match the model: "
                    + string.Join(
                        "; ",
                        new[] { ("missing", missing), ("unexpected", unexpected), ("wrong shapes", misShaped) }
                            .Where(x => x.Item2.Count > 0)
                            .Select(x => $"{x.Item1} ({x.Item2.Count}): {string.Join(", ", x.Item2.Take(10))}")
                    )
            );
        using var _ = no_grad();
        foreach (var (_, key, param) in expected)
        {
            using var t = weights.Load(entries[key], param.dtype, param.device);
            ModelLoader.RequireFinite(t, weights.Path, entries[key]);
            param.copy_(t);
        }
        return adapters;
    }
}
