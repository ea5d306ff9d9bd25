import { DynamicModule, INestMicroservice, Module, Provider, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MicroserviceOptions, Transport } from '@nestjs/microservices';
import { Logger } from 'pino';
import { PinoNestLogger } from '@app/common';
import { RpcErrorFilter } from './rpc-errors';

@Module({})
class RpcHostModule {
  static forRoot(controllers: Type[], providers: Provider[]): DynamicModule {
    return { module: RpcHostModule, controllers, providers };
  }
}

export interface RpcServerOptions {
  service: string;
  host: string;
  port: number;
  logger: Logger;
  controllers: Type[];
  providers?: Provider[];
}

/** A Nest microservice on the TCP transport whose errors reach the caller intact (see rpc-errors.ts). */
export async function startRpcServer(options: RpcServerOptions): Promise<INestMicroservice> {
  const app = await NestFactory.createMicroservice<MicroserviceOptions>(
    RpcHostModule.forRoot(options.controllers, options.providers ?? []),
    {
      transport: Transport.TCP,
      options: { host: options.host, port: options.port },
      logger: new PinoNestLogger(options.logger),
      abortOnError: false,
    },
  );
  app.useGlobalFilters(new RpcErrorFilter(options.service));
  await app.listen();
  return app;
}
