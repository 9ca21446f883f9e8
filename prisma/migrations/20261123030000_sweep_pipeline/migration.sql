-- AlterTable
ALTER TABLE "Sweep" ADD COLUMN     "maxConcurrent" INTEGER,
ADD COLUMN     "metric" TEXT NOT NULL DEFAULT 'eval_loss',
ADD COLUMN     "metricMode" TEXT NOT NULL DEFAULT 'min',
ADD COLUMN     "priority" INTEGER NOT NULL DEFAULT 0;

-- AlterTable
ALTER TABLE "Trial" ADD COLUMN     "kind" TEXT NOT NULL DEFAULT 'train',
ADD COLUMN     "planId" TEXT,
ADD COLUMN     "priority" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "prunedReason" TEXT,
ADD COLUMN     "rankPattern" JSONB;

-- CreateTable
CREATE TABLE "ModuleImportance" (
    "id" TEXT NOT NULL,
    "trialId" TEXT NOT NULL,
    "module" TEXT NOT NULL,
    "score" DOUBLE PRECISION NOT NULL,
    "normalized" DOUBLE PRECISION NOT NULL,
    "rank" INTEGER NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ModuleImportance_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "LoraDropPlan" (
    "id" TEXT NOT NULL,
    "sweepId" TEXT NOT NULL,
    "probeTrialId" TEXT NOT NULL,
    "threshold" DOUBLE PRECISION,
    "topN" INTEGER,
    "selected" JSONB NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "LoraDropPlan_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "RankBudget" (
    "id" BIGSERIAL NOT NULL,
    "trialId" TEXT NOT NULL,
    "step" INTEGER NOT NULL,
    "module" TEXT NOT NULL,
    "rank" INTEGER NOT NULL,
    "budget" INTEGER NOT NULL,

    CONSTRAINT "RankBudget_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Trial_sweepId_status_idx" ON "Trial"("sweepId", "status");

-- CreateIndex
CREATE INDEX "Trial_planId_idx" ON "Trial"("planId");

-- CreateIndex
CREATE UNIQUE INDEX "ModuleImportance_trialId_module_key" ON "ModuleImportance"("trialId", "module");

-- CreateIndex
CREATE INDEX "LoraDropPlan_probeTrialId_idx" ON "LoraDropPlan"("probeTrialId");

-- CreateIndex
CREATE INDEX "LoraDropPlan_sweepId_idx" ON "LoraDropPlan"("sweepId");

-- CreateIndex
CREATE INDEX "RankBudget_trialId_step_idx" ON "RankBudget"("trialId", "step");

-- CreateIndex
CREATE UNIQUE INDEX "RankBudget_trialId_step_module_key" ON "RankBudget"("trialId", "step", "module");

-- AddForeignKey
ALTER TABLE "Trial" ADD CONSTRAINT "Trial_planId_fkey" FOREIGN KEY ("planId") REFERENCES "LoraDropPlan"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ModuleImportance" ADD CONSTRAINT "ModuleImportance_trialId_fkey" FOREIGN KEY ("trialId") REFERENCES "Trial"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LoraDropPlan" ADD CONSTRAINT "LoraDropPlan_sweepId_fkey" FOREIGN KEY ("sweepId") REFERENCES "Sweep"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "LoraDropPlan" ADD CONSTRAINT "LoraDropPlan_probeTrialId_fkey" FOREIGN KEY ("probeTrialId") REFERENCES "Trial"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "RankBudget" ADD CONSTRAINT "RankBudget_trialId_fkey" FOREIGN KEY ("trialId") REFERENCES "Trial"("id") ON DELETE CASCADE ON UPDATE CASCADE;
