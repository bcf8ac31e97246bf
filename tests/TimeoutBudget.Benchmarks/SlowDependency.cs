using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TimeoutBudget.Benchmarks;

/// <summary>
/// A real TCP server on 127.0.0.1 standing for a dependency: it works on at most <c>slots</c> requests at once, each for
/// the current service time, and stops working on a request whose client hung up (as a server that honours its request's
/// cancellation does). Protocol: one connection per request, the client sends "GET\n", the server answers "OK\n".
/// </summary>
internal sealed class SlowDependency : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly SemaphoreSlim _slots;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private int _serviceMs;
    private long _served;
    private long _dropped;

    public SlowDependency(int slots, TimeSpan service)
    {
        _slots = new SemaphoreSlim(slots, slots);
        _serviceMs = (int)service.TotalMilliseconds;
        _listener.Start(backlog: 4096);
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync();
    }

    public int Port { get; }

    /// <summary>Requests fully served (answered), whether or not anyone still waited for the answer.</summary>
    public long Served => Interlocked.Read(ref _served);

    /// <summary>Requests whose client hung up before the answer; their slot was given back.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public TimeSpan Service
    {
        set => Volatile.Write(ref _serviceMs, (int)value.TotalMilliseconds);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _accepting.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException or TimeoutException)
        {
        }

        _stop.Dispose();
        _slots.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = HandleAsync(client);
        }
    }

    private async Task HandleAsync(Socket client)
    {
        using var connection = client;
        using var gone = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        var buffer = new byte[16];
        try
        {
            // Read the request line.
            var read = 0;
            while (read == 0 || buffer[read - 1] != (byte)'\n')
            {
                var n = await client.ReceiveAsync(buffer.AsMemory(read, buffer.Length - read), SocketFlags.None, gone.Token);
                if (n == 0 || read + n >= buffer.Length)
                {
                    return;
                }

                read += n;
            }

            // Watch for the client hanging up while we work.
            _ = WatchAsync(client, gone);
            await _slots.WaitAsync(gone.Token);
            try
            {
                await Task.Delay(Volatile.Read(ref _serviceMs), gone.Token);
                await client.SendAsync("OK\n"u8.ToArray(), SocketFlags.None, gone.Token);
                Interlocked.Increment(ref _served);
            }
            finally
            {
                _slots.Release();
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            Interlocked.Increment(ref _dropped);
        }
    }

    private static async Task WatchAsync(Socket client, CancellationTokenSource gone)
    {
        var one = new byte[1];
        try
        {
            var n = await client.ReceiveAsync(one, SocketFlags.None, gone.Token);
            if (n == 0)
            {
                await gone.CancelAsync();
            }
        }
        catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
        {
            try
            {
                await gone.CancelAsync();
            }
            catch (ObjectDisposedException)
            {
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>A blocking call from a worker thread, as an SDK without async support makes it.</summary>
    /// <returns>Whether the answer arrived.</returns>
    public static bool Call(int port, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var milliseconds = Math.Max(1, (int)Math.Ceiling(timeout.TotalMilliseconds));
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)
        {
            NoDelay = true,
            ReceiveTimeout = milliseconds,
            SendTimeout = milliseconds,
            LingerState = new LingerOption(true, 0),
        };

        // Cancelling closes the socket: the blocked call returns at once and the server sees the hang-up.
        using var link = cancellationToken.UnsafeRegister(static state => ((Socket)state!).Dispose(), socket);
        try
        {
            socket.Connect(IPAddress.Loopback, port);
            socket.Send("GET\n"u8);
            Span<byte> answer = stackalloc byte[8];
            var read = 0;
            while (read < 3)
            {
                var n = socket.Receive(answer[read..]);
                if (n == 0)
                {
                    return false;
                }

                read += n;
            }

            return Encoding.ASCII.GetString(answer[..3]) == "OK\n";
        }
        catch (Exception exception) when (exception is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }
}
