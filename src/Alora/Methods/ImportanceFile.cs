using System.Globalization;
using Alora.IO;
using Alora.Lora;
using Alora.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Alora.Methods;

/// <summary>
/// The importance recorded in stage nu, as one safetensors file: Omega per adapted module under
/// the module path (for example model.layers.3.self_attn.v_proj), the stage-nu factors under
/// &lt;path&gt;.lora_A.weight and &lt;path&gt;.lora_B.weight, and metadata (variant, xi, clamp, steps,
/// tokens, dtype, scaling...). W0 cancels in D - D_nu, so nothing else is needed in stage mu.
/// </summary>
public sealed class ImportanceFile : IDisposable
{
    public const string Format = "alora-importance/1";

    public required IReadOnlyList<string> Modules { get; init; }

    /// <summary>Omega_m (out x in), float32 in memory whatever the stored dtype.</summary>
    public required IReadOnlyDictionary<string, Tensor> Omega { get; init; }
    public required IReadOnlyDictionary<string, Tensor> A { get; init; }
    public required IReadOnlyDictionary<string, Tensor> B { get; init; }
    public required double Scaling { get; init; }
    public required IReadOnlyDictionary<string, string> Metadata { get; init; }

    public string Variant => Metadata.GetValueOrDefault("variant", "?");

    /// <summary>Frobenius norm ||Omega_m||_2 per module, in module order.</summary>
    public double[] Norms()
    {
        using var scope = NewDisposeScope();
        return Modules.Select(m => (double)Omega[m].norm().item<float>()).ToArray();
    }

    /// <summary>Fraction of Omega_m's elements below zero (possible only when the run did not clamp).</summary>
    public double NegativeFraction(string module)
    {
        using var scope = NewDisposeScope();
        var o = Omega[module];
        return (double)o.LessThan(0).sum().item<long>() / o.numel();
    }

    static bool AllFinite(Tensor t)
    {
        using var scope = NewDisposeScope();
        return t.isfinite().all().item<bool>();
    }

    public long OmegaElements => Omega.Values.Sum(t => t.numel());

    public void Save(string path, ScalarType omegaDtype = ScalarType.Float32)
    {
        if (omegaDtype is not (ScalarType.Float32 or ScalarType.Float16 or ScalarType.BFloat16))
            throw new AloraException($"importance can be stored as float32, float16 or bfloat16, not {omegaDtype}");
        var meta = new Dictionary<string, string>(Metadata)
        {
            ["format"] = Format,
            ["dtype"] = omegaDtype switch
            {
                ScalarType.Float16 => "float16",
                ScalarType.BFloat16 => "bfloat16",
                _ => "float32",
            },
            ["scaling"] = Scaling.ToString("R", CultureInfo.InvariantCulture),
            ["modules"] = string.Join(",", Modules),
        };
        var tensors = new List<KeyValuePair<string, Tensor>>();
        var temps = new List<Tensor>();
        try
        {
            foreach (var m in Modules)
            {
                var o = Omega[m].to_type(omegaDtype);
                temps.Add(o);
                tensors.Add(new(m, o));
                tensors.Add(new(m + ".lora_A.weight", A[m]));
                tensors.Add(new(m + ".lora_B.weight", B[m]));
            }
            SafeTensorsWriter.Write(path, tensors, meta);
        }
        finally
        {
            foreach (var t in temps)
                t.Dispose();
        }
    }

    public static ImportanceFile Load(string path)
    {
        var f = SafeTensorsFile.Open(path);
        if (f.Metadata.GetValueOrDefault("format") != Format)
            throw new AloraException(
                $"{path}: not an Alora importance file (metadata format is '{f.Metadata.GetValueOrDefault("format")}', expected {Format})"
            );
        var modules = f.Metadata.GetValueOrDefault("modules", "").Split(',', StringSplitOptions.RemoveEmptyEntries);
        if (modules.Length == 0)
            throw new AloraException($"{path}: the importance file lists no module");
        var omega = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var a = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var b = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var m in modules)
        foreach (var key in new[] { m, m + ".lora_A.weight", m + ".lora_B.weight" })
            if (!f.Entries.ContainsKey(key))
                throw new AloraException($"{path}: tensor '{key}' is missing");
        foreach (var m in modules)
        {
            var o = f.Load(m, ScalarType.Float32).DetachFromDisposeScope();
            if (!AllFinite(o))
                throw new AloraException($"{path}: Omega of {m} contains NaN or infinite values");
            omega[m] = o;
            a[m] = f.Load(m + ".lora_A.weight", ScalarType.Float32).DetachFromDisposeScope();
            b[m] = f.Load(m + ".lora_B.weight", ScalarType.Float32).DetachFromDisposeScope();
            if (
                o.dim() != 2
                || a[m].dim() != 2
                || b[m].dim() != 2
                || o.shape[0] != b[m].shape[0]
                || o.shape[1] != a[m].shape[1]
                || a[m].shape[0] != b[m].shape[1]
            )
                throw new AloraException(
                    $"{path}: shapes of {m} do not fit: Omega {SafeTensorsFile.Fmt(o.shape)}, A {SafeTensorsFile.Fmt(a[m].shape)}, B {SafeTensorsFile.Fmt(b[m].shape)}"
                );
        }
        if (!double.TryParse(f.Metadata.GetValueOrDefault("scaling"), NumberStyles.Float, CultureInfo.InvariantCulture, out var scaling))
            throw new AloraException($"{path}: metadata 'scaling' is missing");
        return new ImportanceFile
        {
            Modules = modules,
            Omega = omega,
            A = a,
            B = b,
            Scaling = scaling,
            Metadata = f.Metadata,
        };
    }

    /// <summary>The importance must describe exactly the adapted modules of this run (same paths and shapes).</summary>
    public void Validate(IReadOnlyList<AdaptedModule> adapters, string path)
    {
        var have = adapters.Select(x => x.Path).ToHashSet(StringComparer.Ordinal);
        var missing = adapters.Where(x => !Omega.ContainsKey(x.Path)).Select(x => x.Path).ToList();
        var extra = Modules.Where(m => !have.Contains(m)).ToList();
        if (missing.Count + extra.Count > 0)
            throw new AloraException(
                $"{path}: the importance was recorded for other modules (another model or other target modules): "
                    + (missing.Count > 0 ? $"no Omega for {string.Join(", ", missing.Take(6))}" : "")
                    + (missing.Count > 0 && extra.Count > 0 ? "; " : "")
                    + (extra.Count > 0 ? $"Omega for modules this run does not adapt: {string.Join(", ", extra.Take(6))}" : "")
            );
        foreach (var x in adapters)
        {
            if (!Omega[x.Path].shape.SequenceEqual([x.Layer.OutFeatures, x.Layer.InFeatures]) || A[x.Path].shape[0] != x.Layer.Rank)
                throw new AloraException(
                    $"{path}: {x.Path} has Omega {SafeTensorsFile.Fmt(Omega[x.Path].shape)} and rank {A[x.Path].shape[0]}, "
                        + $"but this run's layer is {x.Layer.OutFeatures} x {x.Layer.InFeatures} with rank {x.Layer.Rank}: the importance comes from another model or adapter"
                );
        }
        if (Math.Abs(Scaling - adapters[0].Layer.Scaling) > 1e-9 * Math.Abs(Scaling))
            throw new AloraException(
                $"{path}: recorded with scaling {Scaling} but this adapter has {adapters[0].Layer.Scaling} (alpha, rank or rsLoRA differ)"
            );
    }

    public void Dispose()
    {
        foreach (var t in Omega.Values.Concat(A.Values).Concat(B.Values))
            t.Dispose();
    }
}
