using System.Globalization;

namespace Chat.Bench;

/// <summary>
/// One hop of an arm's path: who connects, to which port, which process owns (listens on) that port, the protocol the
/// caller was configured with, and how many connections the caller holds to it (at the moment the path was read).
/// </summary>
public sealed record PathHop(string From, string To, int Port, string Owner, int OwnerPid, string? Protocol = null, int? Connections = null);

/// <summary>
/// Which process owns each listening TCP port, from /proc/net/tcp and /proc/net/tcp6 (the socket inode of every
/// listening socket) and /proc/&lt;pid&gt;/fd (the process holding that inode). A proxy in front of a service (DCP's L4
/// proxy, say) owns the port the caller was given, so it shows by name on the path.
/// </summary>
public static class PortOwners
{
    private const string Listen = "0A";
    private const string Established = "01";
    private const int LocalAddressField = 1;
    private const int RemoteAddressField = 2;

    /// <summary>Established connections to each remote port, by the pid holding the local socket.</summary>
    public static Dictionary<(int Pid, int Port), int> Connections()
    {
        var inodes = SocketPorts(Established, RemoteAddressField);
        var counts = new Dictionary<(int, int), int>();
        foreach (var (pid, inode) in SocketInodes())
        {
            if (inodes.TryGetValue(inode, out var port))
            {
                counts[(pid, port)] = counts.GetValueOrDefault((pid, port)) + 1;
            }
        }

        return counts;
    }

    /// <summary>
    /// Socket inode → port, for the TCP sockets (IPv4 and IPv6) in <paramref name="state"/>, the port read from the
    /// local or the remote address. /proc/net/tcp: sl local_address rem_address st tx_queue:rx_queue tr:tm->when
    /// retrnsmt uid timeout inode.
    /// </summary>
    private static Dictionary<long, int> SocketPorts(string state, int addressField)
    {
        var inodes = new Dictionary<long, int>();
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            if (!File.Exists(table))
            {
                continue;
            }

            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 10 || fields[3] != state)
                {
                    continue;
                }

                var address = fields[addressField];
                inodes[long.Parse(fields[9], CultureInfo.InvariantCulture)] =
                    int.Parse(address[(address.LastIndexOf(':') + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            }
        }

        return inodes;
    }

    private static IEnumerable<(int Pid, long Inode)> SocketInodes()
    {
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid))
            {
                continue;
            }

            var found = new List<long>();
            try
            {
                foreach (var fd in Directory.EnumerateFileSystemEntries(Path.Combine(directory, "fd")))
                {
                    var target = new FileInfo(fd).LinkTarget;
                    if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal)
                        && long.TryParse(target.AsSpan(8, target.Length - 9), NumberStyles.None, CultureInfo.InvariantCulture, out var inode))
                    {
                        found.Add(inode);
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process ended while we looked.
            }

            foreach (var inode in found)
            {
                yield return (pid, inode);
            }
        }
    }

    public static Dictionary<int, int> Listening()
    {
        var inodes = SocketPorts(Listen, LocalAddressField);
        var owners = new Dictionary<int, int>();
        foreach (var (pid, inode) in SocketInodes())
        {
            if (inodes.TryGetValue(inode, out var port))
            {
                owners.TryAdd(port, pid);
            }
        }

        return owners;
    }

    /// <summary>A process's name for the report: its resource name, else its program.</summary>
    public static string Describe(int pid, IReadOnlyList<WatchedProcess> known)
    {
        if (known.FirstOrDefault(p => p.Pids.Contains(pid)) is { } watched)
        {
            return watched.Name;
        }

        try
        {
            var command = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
            return command.Length == 0 ? $"pid {pid}" : string.Join(' ', command.Take(2).Select(Path.GetFileName));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"pid {pid} (gone)";
        }
    }

    /// <summary>One variable of a process's environment (what DCP gave it: service addresses, connection strings).</summary>
    public static string? Environment(int pid, string name)
    {
        try
        {
            var prefix = name + "=";
            return File.ReadAllText($"/proc/{pid}/environ").Split('\0').FirstOrDefault(e => e.StartsWith(prefix, StringComparison.Ordinal))?[prefix.Length..];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
