using System.Globalization;
using Alora.IO;
using static TorchSharp.torch;

namespace Alora.Methods;

/// <summary>How a Fisher was made; stored as the safetensors metadata.</summary>
public sealed record FisherInfo
{
    public int Samples { get; init; }
    public int MaxLength { get; init; }
    public long Seed { get; init; }

    /// <summary>Target tokens over all samples.</summary>
    public long Tokens { get; init; }

    /// <summary>Compute time of the pass (model loading and data reading excluded).</summary>
    public double Seconds { get; init; }
    public IReadOnlyList<string> TargetModules { get; init; } = [];
    public string Architecture { get; init; } = "";
    public int HiddenSize { get; init; }
    public int NumHiddenLayers { get; init; }
}

/// <summary>
/// A diagonal Fisher: one float32 tensor per module path (out x in, the layout of D = s B A, also for
/// GPT-2's Conv1D) and its <see cref="FisherInfo"/>. Owns its tensors.
/// <para>File format: one safetensors file; key = module path (for example
/// <c>model.layers.0.self_attn.q_proj</c>), value F (F32, [out, in]); metadata (all strings):
/// format "pt", alora_kind "ewc-fisher", samples, max_length, seed, tokens, seconds, dtype "float32",
/// target_modules (comma-separated), architecture, hidden_size, num_hidden_layers.</para>
/// </summary>
public sealed class DiagonalFisher : IDisposable
{
    public const string Kind = "ewc-fisher";

    public IReadOnlyDictionary<string, Tensor> Values { get; }
    public FisherInfo Info { get; }

    /// <summary>The file it was read from, for error messages; null when made in memory.</summary>
    public string? Source { get; }

    /// <summary>Takes ownership of <paramref name="values"/> (one [out, in] tensor per module path).</summary>
    public DiagonalFisher(IReadOnlyDictionary<string, Tensor> values, FisherInfo info, string? source = null)
    {
        foreach (var t in values.Values)
            t.DetachFromDisposeScope(); // owned here, whatever scope the caller is in
        Values = values;
        Info = info;
        Source = source;
    }

    /// <summary>Mean of all Fisher elements (the scale that --ewc-lambda multiplies).</summary>
    public double Mean()
    {
        using var scope = NewDisposeScope();
        double sum = 0;
        long count = 0;
        foreach (var f in Values.Values)
        {
            sum += f.to_type(ScalarType.Float64).sum().item<double>();
            count += f.numel();
        }
        return count == 0 ? 0 : sum / count;
    }

    /// <summary>Writes the file atomically; returns its size in bytes.</summary>
    public long Save(string path)
    {
        var inv = CultureInfo.InvariantCulture;
        var meta = new Dictionary<string, string>
        {
            ["format"] = "pt",
            ["alora_kind"] = Kind,
            ["samples"] = Info.Samples.ToString(inv),
            ["max_length"] = Info.MaxLength.ToString(inv),
            ["seed"] = Info.Seed.ToString(inv),
            ["tokens"] = Info.Tokens.ToString(inv),
            ["seconds"] = Info.Seconds.ToString("R", inv),
            ["dtype"] = "float32",
            ["target_modules"] = string.Join(",", Info.TargetModules),
            ["architecture"] = Info.Architecture,
            ["hidden_size"] = Info.HiddenSize.ToString(inv),
            ["num_hidden_layers"] = Info.NumHiddenLayers.ToString(inv),
        };
        SafeTensorsWriter.Write(path, Values.Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value)), meta);
        return FileSize.Of(path);
    }

    /// <summary>Reads a Fisher file (every tensor as float32 on <paramref name="device"/>); metadata it lacks stays empty.</summary>
    public static DiagonalFisher Load(string path, Device? device = null)
    {
        var file = SafeTensorsFile.Open(path);
        var m = file.Metadata;
        if (m.TryGetValue("alora_kind", out var kind) && kind != Kind)
            throw new AloraException($"{path}: this is an Alora '{kind}' file, not an EWC Fisher (make one with `alora fisher`)");
        var values = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var name in file.Entries.Keys)
            {
                if (file.Entries[name].DType is not ("F32" or "F16" or "BF16" or "F64"))
                    throw new AloraException($"{path}: tensor '{name}' is {file.Entries[name].DType}; a Fisher holds floating-point values");
                values[name] = file.Load(name, ScalarType.Float32, device);
            }
        }
        catch
        {
            foreach (var t in values.Values)
                t.Dispose();
            throw;
        }
        int Int(string k) => m.TryGetValue(k, out var v) && int.TryParse(v, CultureInfo.InvariantCulture, out var i) ? i : 0;
        long Long(string k) => m.TryGetValue(k, out var v) && long.TryParse(v, CultureInfo.InvariantCulture, out var i) ? i : 0;
        var info = new FisherInfo
        {
            Samples = Int("samples"),
            MaxLength = Int("max_length"),
            Seed = Long("seed"),
            Tokens = Long("tokens"),
            Seconds = m.TryGetValue("seconds", out var s) && double.TryParse(s, CultureInfo.InvariantCulture, out var d) ? d : 0,
            TargetModules = m.TryGetValue("target_modules", out var tm) ? tm.Split(',', StringSplitOptions.RemoveEmptyEntries) : [],
            Architecture = m.GetValueOrDefault("architecture", ""),
            HiddenSize = Int("hidden_size"),
            NumHiddenLayers = Int("num_hidden_layers"),
        };
        return new DiagonalFisher(values, info, Path.GetFullPath(path));
    }

    public void Dispose()
    {
        foreach (var t in Values.Values)
            t.Dispose();
    }
}
