using System.Text.Json.Nodes;
using Alora.IO;
using Alora.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Lora;

/// <summary>Writes base + adapter as a plain HuggingFace model folder (no LoRA keys left).</summary>
public static class ModelMerge
{
    public static void MergeAndSave(
        CausalLM model,
        IReadOnlyList<AdaptedModule> adapters,
        string baseDir,
        string outDir,
        ScalarType dtype = ScalarType.Float32
    )
    {
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any())
            throw new AloraException($"{outDir}: folder exists and is not empty; choose a new --out");
        foreach (var a in adapters)
            a.Layer.Merge();
        using var scope = NewDisposeScope(); // the converted copies and the temporaries that make them
        // checkpoint names: drop the wrapper level (q_proj.base_layer.weight -> q_proj.weight) and the LoRA factors
        var tensors = model
            .named_parameters()
            .Where(p => !p.name.Contains(".lora_A.", StringComparison.Ordinal) && !p.name.Contains(".lora_B.", StringComparison.Ordinal))
            .Select(p => new KeyValuePair<string, Tensor>(
                p.name.Replace(".base_layer.", ".", StringComparison.Ordinal),
                p.parameter.detach().to_type(dtype)
            ))
            .ToList();
        var tmp = outDir.TrimEnd('/') + ".tmp-merge";
        try
        {
            if (Directory.Exists(tmp))
                Directory.Delete(tmp, true);
            Directory.CreateDirectory(tmp);
            IO.SafeTensorsWriter.Write(Path.Combine(tmp, "model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
            var config = JsonFile.Read(Path.Combine(baseDir, "config.json"));
            config["torch_dtype"] = dtype switch
            {
                ScalarType.BFloat16 => "bfloat16",
                ScalarType.Float16 => "float16",
                _ => "float32",
            };
            File.WriteAllText(
                Path.Combine(tmp, "config.json"),
                config.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true })
            );
            // the tokenizer and generation settings travel with the weights
            foreach (
                var f in new[]
                {
                    "tokenizer.json",
                    "tokenizer.model",
                    "tokenizer_config.json",
                    "special_tokens_map.json",
                    "generation_config.json",
                    "vocab.json",
                    "merges.txt",
                }
            )
                if (File.Exists(Path.Combine(baseDir, f)))
                    File.Copy(Path.Combine(baseDir, f), Path.Combine(tmp, f));
            if (Directory.Exists(outDir))
                Directory.Delete(outDir);
            Directory.Move(tmp, outDir);
        }
        finally
        {
            foreach (var kv in tensors)
                kv.Value.Dispose();
            foreach (var a in adapters)
                a.Layer.Unmerge();
            if (Directory.Exists(tmp))
                Directory.Delete(tmp, true);
        }
    }
}
