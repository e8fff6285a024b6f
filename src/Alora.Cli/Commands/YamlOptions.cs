using System.Globalization;
using System.Text.Json.Nodes;
using Alora.Experiments;
using Alora.Recipes;
using YamlDotNet.RepresentationModel;

namespace Alora.Cli.Commands;

/// <summary>alora train --config: a YAML mapping of option names to values, read into the option object.</summary>
public static class YamlOptions
{
    /// <summary>Options whose values are text or names: they stay text ("data: 2024" names a file, "method: alora" a method).</summary>
    static readonly HashSet<string> TextKeys = OptionCatalog.Options.Where(o => o.IsText).Select(o => o.Key).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// Reads the YAML mapping into the option object and returns the keys it set; an unknown key or a value that is not
    /// a finite number names the file and the key.
    /// </summary>
    public static List<string> ApplyYaml(JsonObject target, string path)
    {
        var keys = new List<string>();
        ArgumentNullException.ThrowIfNull(target);
        if (!File.Exists(path))
            throw new AloraException($"{path}: file not found");
        var yaml = new YamlStream();
        try
        {
            using var reader = new StreamReader(path);
            yaml.Load(reader);
        }
        catch (YamlDotNet.Core.YamlException e)
        {
            throw new AloraException($"{path}: not valid YAML ({e.Message})", e);
        }
        if (yaml.Documents.Count == 0)
            return keys;
        if (yaml.Documents[0].RootNode is not YamlMappingNode map)
            throw new AloraException($"{path}: expected a mapping of option names to values");
        foreach (var (k, v) in map.Children)
        {
            if (k is not YamlScalarNode { Value: { } name })
                throw new AloraException($"{path}: line {k.Start.Line}: a key must be a plain name");
            var key = name.Replace('_', '-');
            if (!target.ContainsKey(key))
                throw new AloraException($"{path}: unknown key '{key}' (known: {string.Join(", ", target.Select(kv => kv.Key))})");
            target[key] = v switch
            {
                YamlSequenceNode seq => new JsonArray(
                    seq.Children.Select(c =>
                            c is YamlScalarNode s
                                ? (JsonNode)JsonValue.Create(s.Value ?? "")
                                : throw new AloraException($"{path}: line {c.Start.Line}: key '{key}': a list holds plain values only")
                        )
                        .ToArray()
                ),
                YamlScalarNode s when TextKeys.Contains(key) => s.Value is null or "~" or "null" ? null : JsonValue.Create(s.Value),
                YamlScalarNode s when YamlJson.IsNonFiniteNumber(s.Value) =>
                // the option object is bound through JSON, which has no NaN or infinity: a clear error here, not a crash there
                throw new AloraException($"{path}: line {s.Start.Line}: key '{key}': '{s.Value}' is not a finite number"),
                YamlScalarNode s => Scalar(s.Value),
                _ => throw new AloraException($"{path}: key '{key}' must be a value or a list"),
            };
            keys.Add(key);
        }
        return keys;
    }

    /// <summary>A YAML scalar as JSON: null, a boolean, an integer, a number, else the text.</summary>
    public static JsonNode? Scalar(string? s)
    {
        if (s is null or "~" or "null")
            return null;
        if (bool.TryParse(s, out var b))
            return b;
        if (long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l))
            return l;
        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
            return double.IsFinite(d) ? d : throw new AloraException($"'{s}' is not a finite number");
        return s;
    }
}
