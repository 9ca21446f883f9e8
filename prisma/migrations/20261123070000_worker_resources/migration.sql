-- AlterTable
ALTER TABLE "Worker" ADD COLUMN     "deviceClass" TEXT NOT NULL DEFAULT 'cpu',
ADD COLUMN     "memoryMb" INTEGER;
