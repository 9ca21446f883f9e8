import { Global, Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { RepositoriesModule } from '@lora/db';
import { AuthController } from './auth.controller';
import { AuthGuard, AuthService } from './auth.guard';

@Global()
@Module({
  imports: [RepositoriesModule],
  controllers: [AuthController],
  providers: [AuthService, { provide: APP_GUARD, useClass: AuthGuard }],
  exports: [AuthService],
})
export class AuthModule {}
