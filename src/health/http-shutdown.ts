import { Injectable, OnApplicationShutdown, OnModuleDestroy } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

interface RequestStart {
  server: Server;
  response: ServerResponse;
}

interface ResponseFinish {
  server: Server;
  socket: Socket;
}

/**
 * The HTTP side of a shutdown. On SIGTERM Nest runs the onModuleDestroy hooks, then the beforeApplicationShutdown
 * ones, then `server.close()`, which waits for every open connection to end (then the onApplicationShutdown hooks):
 * a keep-alive client (a load balancer's pooled connection) would hold it, and the process, up for good. From the
 * first hook on, readiness answers 503, every response that starts tells its client to close the connection, and a
 * connection whose response was already under way is closed once that response is sent, reading nothing more from
 * it (a request sent meanwhile is not run, unless pipelined behind that response; the client sees the connection
 * close and may repeat it elsewhere). Nothing is watched before: no cost per request until then.
 */
@Injectable()
export class HttpShutdown implements OnModuleDestroy, OnApplicationShutdown {
  private closing = false;
  private server: Server | undefined;

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  get shuttingDown(): boolean {
    return this.closing;
  }

  onModuleDestroy(): void {
    if (this.closing) return;
    this.closing = true;
    this.server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    subscribe('http.server.request.start', this.onRequest);
    subscribe('http.server.response.finish', this.onResponseSent);
  }

  onApplicationShutdown(): void {
    unsubscribe('http.server.request.start', this.onRequest);
    unsubscribe('http.server.response.finish', this.onResponseSent);
  }

  private readonly onRequest = (message: unknown): void => {
    const { server, response } = message as RequestStart;
    if (server === this.server) response.setHeader('Connection', 'close');
  };

  private readonly onResponseSent = (message: unknown): void => {
    const { server, socket } = message as ResponseFinish;
    // As Node does after a Connection: close response: what is buffered goes out, then the socket is destroyed (a
    // plain end() would leave it half open, still reading requests it could no longer answer).
    if (server === this.server) socket.destroySoon();
  };
}
