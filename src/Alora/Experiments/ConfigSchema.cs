using System.Globalization;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Alora.Recipes;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Alora.Experiments;

/// <summary>YAML to a JSON tree: mappings become objects (keys with '_' read as '-'), plain scalars numbers, booleans or null, quoted scalars strings.</summary>
public static class YamlJson
{
    public static JsonNode? Load(string path)
    {
        var yaml = new YamlStream();
        try
        {
            using var reader = new StreamReader(path);
            yaml.Load(reader);
        }
        catch (YamlException e)
        {
            throw new AloraException($"{path}: not valid YAML ({e.Message})", e);
        }
        return yaml.Documents.Count == 0 ? null : Convert(yaml.Documents[0].RootNode, path);
    }

    static JsonNode? Convert(YamlNode node, string path) => node switch
    {
        YamlMappingNode map => Map(map, path),
        YamlSequenceNode seq => new JsonArray(seq.Children.Select(c => Convert(c, path)).ToArray()),
        YamlScalarNode s when s.Style is ScalarStyle.Plain => Scalar(s.Value),
        YamlScalarNode s => JsonValue.Create(s.Value ?? ""),
        _ => throw new AloraException($"{path}: line {node.Start.Line}: aliases and tags are not supported"),
    };

    static JsonObject Map(YamlMappingNode map, string path)
    {
        var o = new JsonObject();
        foreach (var (k, v) in map.Children)
        {
            if (k is not YamlScalarNode { Value: { } key }) throw new AloraException($"{path}: line {k.Start.Line}: a key must be a plain name");
            var name = key.Replace('_', '-');
            if (o.ContainsKey(name)) throw new AloraException($"{path}: line {k.Start.Line}: key '{key}' is given twice");
            o[name] = Convert(v, path);
        }
        return o;
    }

    static JsonNode? Scalar(string? s)
    {
        if (s is null or "" or "~" or "null" or "Null" or "NULL") return null;
        if (s is "true" or "True" or "TRUE") return true;
        if (s is "false" or "False" or "FALSE") return false;
        if (long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l)) return l;
        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return d;
        return s;
    }
}

/// <summary>
/// Checks a JSON tree against a record type before binding, so that an unknown key is reported by its full
/// path (general.trian) with the known keys, and a number given where a name is expected is read as text.
/// </summary>
internal static class ConfigSchema
{
    static readonly JsonNamingPolicy Kebab = JsonNamingPolicy.KebabCaseLower;

    /// <summary>Keys a train / general-stage / domain-stage / overrides section may hold: FinetuneOptions' in kebab-case.</summary>
    public static readonly IReadOnlyList<string> TrainKeys = typeof(FinetuneOptions).GetProperties()
        .Where(p => p.CanWrite && p.GetCustomAttribute<JsonIgnoreAttribute>() is null).Select(p => Kebab.ConvertName(p.Name)).ToList();

    public static void Check(JsonNode? node, Type type, string path, string source)
    {
        if (node is null) return;
        var element = ListElement(type);
        if (element is not null)
        {
            if (node is not JsonArray arr) throw new AloraException($"{source}: '{path}' must be a list");
            for (int i = 0; i < arr.Count; i++)
            {
                if (element == typeof(string) && arr[i] is JsonValue v && v.GetValueKind() is JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False)
                    arr[i] = JsonValue.Create(v.ToJsonString());
                Check(arr[i], element, $"{path}[{i}]", source);
            }
            return;
        }
        if (type == typeof(JsonObject))
        {
            if (node is not JsonObject) throw new AloraException($"{source}: '{path}' must be a mapping of keys to values");
            return;
        }
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>))
        {
            if (node is not JsonObject map) throw new AloraException($"{source}: '{path}' must be a mapping");
            foreach (var (k, v) in map) Check(v, type.GetGenericArguments()[1], Join(path, k), source);
            return;
        }
        if (!type.IsClass || type == typeof(string)) return;
        if (node is not JsonObject obj) throw new AloraException($"{source}: '{(path.Length == 0 ? "the file" : path)}' must be a mapping of keys to values");
        var props = type.GetProperties().Where(p => p.CanWrite && p.GetCustomAttribute<JsonIgnoreAttribute>() is null)
            .ToDictionary(p => Kebab.ConvertName(p.Name), StringComparer.Ordinal);
        foreach (var (key, value) in obj.ToList())
        {
            if (!props.TryGetValue(key, out var prop))
                throw new AloraException($"{source}: unknown key '{Join(path, key)}' (known{(path.Length == 0 ? "" : " in " + path)}: {string.Join(", ", props.Keys)})");
            if (prop.PropertyType == typeof(string) && value is JsonValue v && v.GetValueKind() is JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False)
                obj[key] = JsonValue.Create(v.ToJsonString());
            else Check(value, prop.PropertyType, Join(path, key), source);
        }
    }

    static string Join(string path, string key) => path.Length == 0 ? key : path + "." + key;

    static Type? ListElement(Type t) =>
        t.IsGenericType && t.GetGenericTypeDefinition() == typeof(IReadOnlyList<>) ? t.GetGenericArguments()[0] : null;
}
