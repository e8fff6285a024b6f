using System.Text.Json;
using System.Text.Json.Nodes;
using Alora.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Models;

/// <summary>Loads and saves HuggingFace model folders (config.json + safetensors, single or sharded).</summary>
public static class ModelLoader
{
    // Non-parameter buffers some checkpoints carry; transformers ignores them too.
    static readonly string[] IgnoredSuffixes = [".rotary_emb.inv_freq", ".attn.bias", ".attn.masked_bias"];

    /// <summary>Builds the architecture named in config.json (validated by <see cref="HfConfig.ForModel"/>) with uninitialised weights.</summary>
    public static CausalLM Create(string configPath, JsonObject json)
    {
        Runtime.TorchRuntime.Initialize();
        return HfConfig.ForModel(configPath, json) switch
        {
            LlamaConfig lc => new LlamaForCausalLM(lc),
            GptJConfig jc => new GptJForCausalLM(jc),
            Gpt2Config gc => new Gpt2LMHeadModel(gc),
            var c => throw new AloraException($"{configPath}: architecture {c.GetType().Name} has no model"),
        };
    }

    /// <summary>
    /// Loads a model folder; weights are converted to <paramref name="dtype"/> (default float32) and moved to <paramref name="device"/>.
    /// With <paramref name="linearWeightsBf16"/> (float32 only) the Linear weights are stored in bfloat16 as they are read (<see cref="Bf16Storage"/>).
    /// </summary>
    public static CausalLM Load(string dir, Device? device = null, ScalarType dtype = ScalarType.Float32, bool linearWeightsBf16 = false)
    {
        if (!Directory.Exists(dir))
            throw new AloraException($"{dir}: model folder not found");
        var configPath = Path.Combine(dir, "config.json");
        var model = Create(configPath, JsonFile.Read(configPath));
        try
        {
            if (linearWeightsBf16)
                model.StoreLinearWeightsInBf16(); // before the weights are read: no float32 copy is ever filled
            LoadWeights(model, dir, dtype);
            if (device is { } d && d.type != DeviceType.CPU)
                model.to(d);
            model.eval();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Maps every tensor name to the safetensors file that holds it.</summary>
    public static Dictionary<string, SafeTensorsFile> OpenCheckpoint(string dir)
    {
        var single = Path.Combine(dir, "model.safetensors");
        var index = Path.Combine(dir, "model.safetensors.index.json");
        var map = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
        if (File.Exists(single))
        {
            var f = SafeTensorsFile.Open(single);
            foreach (var name in f.Entries.Keys)
                map[name] = f;
            return map;
        }
        if (!File.Exists(index))
            throw new AloraException(
                $"{dir}: no model.safetensors or model.safetensors.index.json (PyTorch .bin checkpoints are not read: convert them to safetensors)"
            );
        var weightMap = JsonFile.Read(index)["weight_map"] as JsonObject ?? throw new AloraException($"{index}: no weight_map object");
        var files = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
        foreach (var (name, fileNode) in weightMap)
        {
            var file =
                fileNode is JsonValue v && v.TryGetValue<string>(out var f)
                    ? f
                    : throw new AloraException($"{index}: weight_map entry '{name}' is not a file name");
            // a shard is a file of this folder: no path, so an index cannot make the loader read elsewhere
            if (file.Length == 0 || Path.GetFileName(file) != file || file is "." or "..")
                throw new AloraException($"{index}: weight_map entry '{name}' names '{file}', not a file of the model folder");
            if (!files.TryGetValue(file, out var sf))
                files[file] = sf = SafeTensorsFile.Open(Path.Combine(dir, file));
            if (!sf.Entries.ContainsKey(name))
                throw new AloraException($"{index}: '{name}' is mapped to {file}, which does not contain it");
            map[name] = sf;
        }
        return map;
    }

    static void LoadWeights(CausalLM model, string dir, ScalarType dtype)
    {
        var checkpoint = OpenCheckpoint(dir);
        var parameters = model.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        bool tied = model.Config.TieWordEmbeddings ?? model is Gpt2LMHeadModel;
        var missing = parameters.Keys.Where(k => !checkpoint.ContainsKey(k)).ToList();
        var unexpected = checkpoint
            .Keys.Where(k =>
                !parameters.ContainsKey(k) && !IgnoredSuffixes.Any(s => k.EndsWith(s, StringComparison.Ordinal)) && !(tied && k == "lm_head.weight")
            )
            .ToList();
        var misShaped = parameters
            .Where(p => checkpoint.ContainsKey(p.Key) && !checkpoint[p.Key].Entries[p.Key].Shape.SequenceEqual(p.Value.shape))
            .Select(p =>
                $"{p.Key}: checkpoint {SafeTensorsFile.Fmt(checkpoint[p.Key].Entries[p.Key].Shape)}, model {SafeTensorsFile.Fmt(p.Value.shape)}"
            )
            .ToList();
        var unsupported = parameters
            .Keys.Where(checkpoint.ContainsKey)
            .Where(k => checkpoint[k].Entries[k].DType is not ("F32" or "F16" or "BF16" or "F64"))
            .Select(k => $"{k}: {checkpoint[k].Entries[k].DType}")
            .ToList();
        if (missing.Count + unexpected.Count + misShaped.Count + unsupported.Count > 0)
        {
            var parts = new List<string>();
            if (missing.Count > 0)
                parts.Add($"missing tensors ({missing.Count}): {List(missing)}");
            if (unexpected.Count > 0)
                parts.Add($"unexpected tensors ({unexpected.Count}): {List(unexpected)}");
            if (misShaped.Count > 0)
                parts.Add($"wrong shapes ({misShaped.Count}): {List(misShaped)}");
            if (unsupported.Count > 0)
                parts.Add($"non-float weights: {List(unsupported)}");
            throw new AloraException($"{dir}: checkpoint does not match {model.Architecture} of config.json: {string.Join("; ", parts)}");
        }
        using var _ = no_grad();
        foreach (var (name, p) in parameters)
        {
            using var t = checkpoint[name].Load(name, ScalarType.Float32);
            RequireFinite(t, checkpoint[name].Path, name);
            p.copy_(t);
            if (p.dtype != ScalarType.Float32) // bfloat16 storage: float32's range, but a value at its very top rounds up to infinity
                RequireFinite(p, checkpoint[name].Path, name);
        }
        if (dtype != ScalarType.Float32)
            model.to(dtype);
        // float16 ends at 65504: a larger weight would become infinite here, and every output NaN
        if (dtype == ScalarType.Float16)
            foreach (var (name, p) in model.named_parameters()) // the converted ones: to() replaced the tensors
                if (!AllFinite(p))
                    throw new AloraException(
                        $"{dir}: tensor '{name}' has values beyond float16's range (65504): load the model as float32 or bfloat16 (--dtype)"
                    );
    }

    /// <summary>
    /// Refuses a tensor holding NaN or infinities, naming the file and the tensor: such weights make every
    /// result NaN (and JSON cannot even hold it), so they are stopped where they enter. One pass over the tensor.
    /// </summary>
    internal static void RequireFinite(Tensor t, string file, string name)
    {
        if (AllFinite(t))
            return;
        using var scope = NewDisposeScope();
        long nan = t.isnan().sum().item<long>(),
            inf = t.isinf().sum().item<long>();
        throw new AloraException($"{file}: tensor '{name}' holds non-finite values ({nan} NaN, {inf} infinite of {t.numel()}); refusing to load it");
    }

    static bool AllFinite(Tensor t)
    {
        using var scope = NewDisposeScope();
        return t.isfinite().all().item<bool>();
    }

    static string List(List<string> items) => string.Join(", ", items.Take(20)) + (items.Count > 20 ? $", ... ({items.Count - 20} more)" : "");

    /// <summary>Writes a HuggingFace model folder: config.json (the source config with torch_dtype updated) and model.safetensors.</summary>
    public static void Save(CausalLM model, string dir, JsonObject config, ScalarType dtype = ScalarType.Float32)
    {
        Directory.CreateDirectory(dir);
        var cfg = (JsonObject)config.DeepClone();
        cfg["torch_dtype"] = dtype switch
        {
            ScalarType.BFloat16 => "bfloat16",
            ScalarType.Float16 => "float16",
            _ => "float32",
        };
        using (NewDisposeScope())
        {
            var tensors = model
                .named_parameters()
                .Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter.detach().to_type(dtype)))
                .ToList();
            SafeTensorsWriter.Write(Path.Combine(dir, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
        }
        AtomicFile.WriteAllText(Path.Combine(dir, "config.json"), cfg.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
