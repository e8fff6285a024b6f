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

    static JsonNode? Convert(YamlNode node, string path) =>
        node switch
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
            if (k is not YamlScalarNode { Value: { } key })
                throw new AloraException($"{path}: line {k.Start.Line}: a key must be a plain name");
            var name = key.Replace('_', '-');
            if (o.ContainsKey(name))
                throw new AloraException($"{path}: line {k.Start.Line}: key '{key}' is given twice");
            o[name] = Convert(v, path);
        }
        return o;
    }

    static JsonNode? Scalar(string? s)
    {
        if (s is null or "" or "~" or "null" or "Null" or "NULL")
            return null;
        if (s is "true" or "True" or "TRUE")
            return true;
        if (s is "false" or "False" or "FALSE")
            return false;
        if (long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l))
            return l;
        // NaN and infinities stay text: JSON cannot hold them, and ConfigSchema.Check refuses them where a number is expected
        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d))
            return d;
        return s;
    }

    /// <summary>
    /// Whether a plain scalar spells NaN or an infinity: YAML's .nan / .inf / -.inf (any case YAML allows), or a
    /// number .NET reads as non-finite ("NaN", "Infinity", "1e400", which overflows).
    /// </summary>
    public static bool IsNonFiniteNumber(string? s)
    {
        if (string.IsNullOrEmpty(s))
            return false;
        var t = s.TrimStart('+', '-');
        if (t is ".nan" or ".NaN" or ".NAN" or ".inf" or ".Inf" or ".INF")
            return true;
        return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && !double.IsFinite(d);
    }
}

/// <summary>
/// Checks a JSON tree against a record type before binding, so that an unknown key is reported by its full
/// path (general.trian) with the known keys, and a number given where a name is expected is read as text.
/// </summary>
internal static class ConfigSchema
{
    static readonly JsonNamingPolicy Kebab = JsonNamingPolicy.KebabCaseLower;

    public static void Check(JsonNode? node, Type type, string path, string source)
    {
        if (node is null)
            return;
        CheckFinite(node, type, path, source);
        var element = ListElement(type);
        if (element is not null)
        {
            if (node is not JsonArray arr)
                throw new AloraException($"{source}: '{path}' must be a list");
            for (int i = 0; i < arr.Count; i++)
            {
                if (arr[i] is { } item)
                    CheckFinite(item, element, $"{path}[{i}]", source);
                if (
                    element == typeof(string)
                    && arr[i] is JsonValue v
                    && v.GetValueKind() is JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False
                )
                    arr[i] = JsonValue.Create(v.ToJsonString());
                Check(arr[i], element, $"{path}[{i}]", source);
            }
            return;
        }
        if (type == typeof(JsonObject))
        {
            // the config's free-form sections (train, general-stage, domain-stage, overrides.M) hold FinetuneOptions keys
            if (node is not JsonObject section)
                throw new AloraException($"{source}: '{path}' must be a mapping of keys to values");
            foreach (var (key, value) in section)
                if (value is not null && TrainTypes.TryGetValue(key, out var t))
                    CheckFinite(value, t, Join(path, key), source);
            return;
        }
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>))
        {
            if (node is not JsonObject map)
                throw new AloraException($"{source}: '{path}' must be a mapping");
            foreach (var (k, v) in map)
                Check(v, type.GetGenericArguments()[1], Join(path, k), source);
            return;
        }
        if (!type.IsClass || type == typeof(string))
            return;
        if (node is not JsonObject obj)
            throw new AloraException($"{source}: '{(path.Length == 0 ? "the file" : path)}' must be a mapping of keys to values");
        var props = type.GetProperties()
            .Where(p => p.CanWrite && p.GetCustomAttribute<JsonIgnoreAttribute>() is null)
            .ToDictionary(p => Kebab.ConvertName(p.Name), StringComparer.Ordinal);
        foreach (var (key, value) in obj.ToList())
        {
            if (!props.TryGetValue(key, out var prop))
                throw new AloraException(
                    $"{source}: unknown key '{Join(path, key)}' (known{(path.Length == 0 ? "" : " in " + path)}: {string.Join(", ", props.Keys)})"
                );
            if (value is not null)
                CheckFinite(value, prop.PropertyType, Join(path, key), source);
            if (
                prop.PropertyType == typeof(string)
                && value is JsonValue v
                && v.GetValueKind() is JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False
            )
                obj[key] = JsonValue.Create(v.ToJsonString());
            else
                Check(value, prop.PropertyType, Join(path, key), source);
        }
    }

    static readonly Dictionary<string, Type> TrainTypes = OptionCatalog.Options.ToDictionary(o => o.Key, o => o.Type, StringComparer.Ordinal);

    /// <summary>
    /// Where a number is expected, NaN and infinities (YAML's .nan and .inf, "NaN", "1e400") are refused by name:
    /// JSON cannot carry them, and a NaN learning rate or phi would train a model of NaNs.
    /// </summary>
    static void CheckFinite(JsonNode node, Type type, string path, string source)
    {
        if (node is not JsonValue v)
            return;
        var t = Nullable.GetUnderlyingType(type) ?? type;
        bool numeric = t == typeof(double) || t == typeof(float) || t == typeof(int) || t == typeof(long);
        string? bad =
            v.TryGetValue<double>(out var d) && !double.IsFinite(d) ? d.ToString(CultureInfo.InvariantCulture)
            : v.TryGetValue<float>(out var f) && !float.IsFinite(f) ? f.ToString(CultureInfo.InvariantCulture)
            : numeric && v.TryGetValue<string>(out var s) && YamlJson.IsNonFiniteNumber(s) ? s
            : null;
        if (bad is not null)
            throw new AloraException($"{source}: '{path}' is {bad}: expected a finite number");
    }

    static string Join(string path, string key) => path.Length == 0 ? key : path + "." + key;

    /// <summary>A JsonException's path ($['train']['max-steps'], $.seeds[1]) as the config's keys: train.max-steps, seeds[1].</summary>
    public static string KeyPath(string? jsonPath) =>
        (jsonPath ?? "").Replace("['", ".", StringComparison.Ordinal).Replace("']", "", StringComparison.Ordinal).TrimStart('$', '.');

    static Type? ListElement(Type t) =>
        t.IsGenericType && t.GetGenericTypeDefinition() == typeof(IReadOnlyList<>) ? t.GetGenericArguments()[0] : null;
}
