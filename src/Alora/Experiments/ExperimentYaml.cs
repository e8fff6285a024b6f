using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Alora.IO;

namespace Alora.Experiments;

/// <summary>
/// An <see cref="ExperimentConfig"/> written as the YAML <see cref="ExperimentConfig.Load"/> reads back as the same
/// configuration: kebab-case keys in the record's order, values equal to the defaults (and unset keys of list items) left out, names plain and
/// other strings single-quoted (so "1e3", "true" or a path stays text), numbers as JSON writes them (shortest round-trip form), lists of
/// scalars in flow style.
/// </summary>
public static class ExperimentYaml
{
    /// <summary>The YAML text; <paramref name="header"/> lines are written first as comments.</summary>
    public static string Write(ExperimentConfig config, params string[] header)
    {
        ArgumentNullException.ThrowIfNull(config);
        var tree = JsonSerializer.SerializeToNode(config, ExperimentConfig.Json)!.AsObject();
        var defaults = JsonSerializer.SerializeToNode(new ExperimentConfig(), ExperimentConfig.Json)!.AsObject();
        LeaveOutDefaults(tree, defaults);
        var sb = new StringBuilder();
        foreach (var line in header)
            sb.Append("# ").Append(line).Append('\n');
        Mapping(sb, tree, 0);
        return sb.ToString();
    }

    /// <summary>Removes every key whose value equals the default's; nested records are pruned key by key.</summary>
    static void LeaveOutDefaults(JsonObject tree, JsonObject defaults)
    {
        foreach (var (key, value) in tree.ToList())
        {
            if (!defaults.TryGetPropertyValue(key, out var d))
                continue;
            if (value is JsonObject o && d is JsonObject od && od.Count > 0)
            {
                LeaveOutDefaults(o, od);
                if (o.Count == 0)
                    tree.Remove(key);
            }
            else if (JsonNode.DeepEquals(value, d))
                tree.Remove(key);
            else if (value is JsonArray items)
                // the optional keys of list items (a task's test-labels) are null when not given
                foreach (var item in items.OfType<JsonObject>())
                foreach (var (k, _) in item.Where(p => p.Value is null).ToList())
                    item.Remove(k);
        }
    }

    static void Mapping(StringBuilder sb, JsonObject map, int indent)
    {
        foreach (var (key, value) in map)
        {
            sb.Append(' ', indent).Append(key).Append(':');
            Value(sb, value, indent);
        }
    }

    /// <summary>Writes what follows "key:" (a scalar or a flow list on the same line, a block below it).</summary>
    static void Value(StringBuilder sb, JsonNode? value, int indent)
    {
        switch (value)
        {
            case JsonObject { Count: 0 }:
                sb.Append(" {}\n");
                break;
            case JsonObject o:
                sb.Append('\n');
                Mapping(sb, o, indent + 2);
                break;
            case JsonArray a when a.All(x => x is null or JsonValue):
                sb.Append(" [").AppendJoin(", ", a.Select(Scalar)).Append("]\n");
                break;
            case JsonArray a:
                sb.Append('\n');
                foreach (var item in a)
                {
                    if (item is not JsonObject o)
                        throw new ArgumentException("a list mixes mappings and scalars", nameof(value));
                    var nested = new StringBuilder();
                    Mapping(nested, o, indent + 4);
                    // the first key goes on the dash's line: "  - name: x"
                    sb.Append(' ', indent + 2).Append("- ").Append(nested.ToString(indent + 4, nested.Length - indent - 4));
                }
                break;
            default:
                sb.Append(' ').Append(Scalar(value)).Append('\n');
                break;
        }
    }

    static string Scalar(JsonNode? value) =>
        value switch
        {
            null => "null",
            JsonValue v when v.GetValueKind() is JsonValueKind.String => Text(v.GetValue<string>()),
            JsonValue v when v.GetValueKind() is JsonValueKind.True => "true",
            JsonValue v when v.GetValueKind() is JsonValueKind.False => "false",
            JsonValue v => v.ToJsonString(),
            _ => throw new ArgumentException($"not a scalar: {value.ToJsonString()}", nameof(value)),
        };

    /// <summary>A name stays plain (alora, q_proj, softmax-normalized); anything a YAML reader could take for another
    /// type (true, yes, null, 1e3, .inf) or that holds other characters (paths, spaces, quotes) is single-quoted.</summary>
    static string Text(string s) =>
        PlainName.IsMatch(s) && !ReadAsOtherType.Contains(s) ? s : "'" + s.Replace("'", "''", StringComparison.Ordinal) + "'";

    static readonly Regex PlainName = new("^[A-Za-z_][A-Za-z0-9_-]*$", RegexOptions.CultureInvariant);

    // the YAML 1.1 and 1.2 spellings of booleans and null, in any case
    static readonly HashSet<string> ReadAsOtherType = new(
        ["true", "false", "yes", "no", "on", "off", "y", "n", "null"],
        StringComparer.OrdinalIgnoreCase
    );

    /// <summary>Writes the YAML to <paramref name="path"/> through a temporary file, so a reader never sees half of it.</summary>
    public static void Save(ExperimentConfig config, string path, params string[] header) => AtomicFile.WriteAllText(path, Write(config, header));
}
